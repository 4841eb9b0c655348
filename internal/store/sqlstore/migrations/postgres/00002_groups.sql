-- +goose Up
ALTER TABLE outbox ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN digest_above INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN max_per_message INTEGER NOT NULL DEFAULT 0;

-- One row per channel and group key: when the group's next message is
-- due (new rows join it) and when its last one was sent.
CREATE TABLE outbox_groups (
    channel    TEXT        NOT NULL,
    group_key  TEXT        NOT NULL,
    next_flush TIMESTAMPTZ,
    last_sent  TIMESTAMPTZ,
    PRIMARY KEY (channel, group_key)
);

-- +goose Down
DROP TABLE outbox_groups;
ALTER TABLE outbox DROP COLUMN max_per_message;
ALTER TABLE outbox DROP COLUMN digest_above;
ALTER TABLE outbox DROP COLUMN group_key;
