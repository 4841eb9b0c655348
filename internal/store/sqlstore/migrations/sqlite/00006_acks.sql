-- A detection acknowledged by a person (the dashboard, `puawatch ack`):
-- who, when, and why. One per detection: the first acknowledgement stays.

-- +goose Up
CREATE TABLE acks (
    event_id TEXT    PRIMARY KEY REFERENCES detections (event_id),
    acked_by TEXT    NOT NULL DEFAULT '',
    acked_at INTEGER NOT NULL,
    comment  TEXT    NOT NULL DEFAULT ''
) STRICT;

-- +goose Down
DROP TABLE acks;
