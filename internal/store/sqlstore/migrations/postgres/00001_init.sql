-- puawatch schema for PostgreSQL. Times are timestamptz (stored at
-- millisecond precision by the store); NULL is the zero time.

-- +goose Up
CREATE TABLE tenants (
    id          text        PRIMARY KEY CHECK (id <> ''),
    name        text        NOT NULL DEFAULT '',
    region      text        NOT NULL DEFAULT '',
    api_host    text        NOT NULL DEFAULT '',
    cursor      text        NOT NULL DEFAULT '',
    last_read   timestamptz,
    overlap_at  timestamptz,
    last_error  text        NOT NULL DEFAULT '',
    error_at    timestamptz,
    first_seen  timestamptz,
    removed     boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz
);

CREATE TABLE detections (
    event_id      text        PRIMARY KEY CHECK (event_id <> ''),
    tenant_id     text        NOT NULL,
    tenant_name   text        NOT NULL DEFAULT '',
    kind          text        NOT NULL DEFAULT '',
    type          text        NOT NULL DEFAULT '',
    name          text        NOT NULL DEFAULT '',
    severity      text        NOT NULL DEFAULT '',
    threat        text        NOT NULL DEFAULT '',
    location      text        NOT NULL DEFAULT '',
    "user"        text        NOT NULL DEFAULT '',
    endpoint_id   text        NOT NULL DEFAULT '',
    endpoint_type text        NOT NULL DEFAULT '',
    path          text        NOT NULL DEFAULT '',
    "when"        timestamptz,
    created_at    timestamptz,
    seen_at       timestamptz,
    raw           bytea       NOT NULL DEFAULT ''::bytea
);

CREATE INDEX detections_created_at ON detections (created_at);
CREATE INDEX detections_tenant_created_at ON detections (tenant_id, created_at);

CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    event_id      text        NOT NULL REFERENCES detections (event_id),
    tenant_id     text        NOT NULL,
    channel       text        NOT NULL CHECK (channel <> ''),
    state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    last_error    text        NOT NULL DEFAULT '',
    batch_id      text        NOT NULL DEFAULT '',
    claim_owner   text        NOT NULL DEFAULT '',
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz,
    UNIQUE (event_id, channel)
);

CREATE INDEX outbox_state_next_at ON outbox (state, next_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE detections;
DROP TABLE tenants;
