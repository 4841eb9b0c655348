-- +goose Up
-- Spans of a tenant's events that may never have been read (the API keeps
-- 24 hours): events created in [from_at, to_at), on the API's clock.
CREATE TABLE lost_windows (
    tenant_id   text        NOT NULL CHECK (tenant_id <> ''),
    from_at     timestamptz NOT NULL,
    to_at       timestamptz NOT NULL CHECK (to_at > from_at),
    reason      text        NOT NULL DEFAULT '',
    detected_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, from_at)
);

-- +goose Down
DROP TABLE lost_windows;
