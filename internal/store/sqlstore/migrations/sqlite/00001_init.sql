-- puawatch schema for SQLite. Times are INTEGER unix milliseconds (UTC);
-- NULL is the zero time. Booleans are 0/1.

-- +goose Up
CREATE TABLE tenants (
    id          TEXT    PRIMARY KEY CHECK (id <> ''),
    name        TEXT    NOT NULL DEFAULT '',
    region      TEXT    NOT NULL DEFAULT '',
    api_host    TEXT    NOT NULL DEFAULT '',
    cursor      TEXT    NOT NULL DEFAULT '',
    last_read   INTEGER,
    overlap_at  INTEGER,
    last_error  TEXT    NOT NULL DEFAULT '',
    error_at    INTEGER,
    first_seen  INTEGER,
    removed     INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    updated_at  INTEGER
) STRICT;

CREATE TABLE detections (
    event_id      TEXT    PRIMARY KEY CHECK (event_id <> ''),
    tenant_id     TEXT    NOT NULL,
    tenant_name   TEXT    NOT NULL DEFAULT '',
    kind          TEXT    NOT NULL DEFAULT '',
    type          TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',
    severity      TEXT    NOT NULL DEFAULT '',
    threat        TEXT    NOT NULL DEFAULT '',
    location      TEXT    NOT NULL DEFAULT '',
    "user"        TEXT    NOT NULL DEFAULT '',
    endpoint_id   TEXT    NOT NULL DEFAULT '',
    endpoint_type TEXT    NOT NULL DEFAULT '',
    path          TEXT    NOT NULL DEFAULT '',
    "when"        INTEGER,
    created_at    INTEGER,
    seen_at       INTEGER,
    raw           BLOB    NOT NULL DEFAULT x''
) STRICT;

CREATE INDEX detections_created_at ON detections (created_at);
CREATE INDEX detections_tenant_created_at ON detections (tenant_id, created_at);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT    NOT NULL REFERENCES detections (event_id),
    tenant_id     TEXT    NOT NULL,
    channel       TEXT    NOT NULL CHECK (channel <> ''),
    state         TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    last_error    TEXT    NOT NULL DEFAULT '',
    batch_id      TEXT    NOT NULL DEFAULT '',
    claim_owner   TEXT    NOT NULL DEFAULT '',
    claimed_until INTEGER,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER,
    UNIQUE (event_id, channel)
) STRICT;

CREATE INDEX outbox_state_next_at ON outbox (state, next_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE detections;
DROP TABLE tenants;
