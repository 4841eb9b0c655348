-- The alarm mails' throttle (lag, lost events): a slot per name (a tenant
-- id) and when a mail last took it, so that cron runs, each a new
-- process, mail a tenant at most once an hour, and two runs at once only
-- one of them.

-- +goose Up
CREATE TABLE alarm_slots (
    name     text        PRIMARY KEY CHECK (name <> ''),
    taken_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE alarm_slots;
