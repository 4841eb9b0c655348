-- Every delivery attempt of an outbox row (MarkSent, MarkRetry, MarkDead
-- add one in the transaction that changes the row): when, the result and
-- the reason of a failure.

-- +goose Up
CREATE TABLE attempts (
    id        bigserial   PRIMARY KEY,
    outbox_id bigint      NOT NULL REFERENCES outbox (id),
    channel   text        NOT NULL,
    at        timestamptz NOT NULL,
    result    text        NOT NULL CHECK (result IN ('sent', 'retry', 'dead')),
    error     text        NOT NULL DEFAULT ''
);

CREATE INDEX attempts_outbox_id ON attempts (outbox_id);

-- +goose Down
DROP TABLE attempts;
