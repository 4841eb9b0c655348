-- A detection acknowledged by a person (the dashboard, `puawatch ack`):
-- who, when, and why. One per detection: the first acknowledgement stays.

-- +goose Up
CREATE TABLE acks (
    event_id text        PRIMARY KEY REFERENCES detections (event_id),
    acked_by text        NOT NULL DEFAULT '',
    acked_at timestamptz NOT NULL,
    comment  text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE acks;
