-- Every delivery attempt of an outbox row (MarkSent, MarkRetry, MarkDead
-- add one in the transaction that changes the row): when, the result and
-- the reason of a failure.

-- +goose Up
CREATE TABLE attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    channel   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    result    TEXT    NOT NULL CHECK (result IN ('sent', 'retry', 'dead')),
    error     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX attempts_outbox_id ON attempts (outbox_id);

-- +goose Down
DROP TABLE attempts;
