// Package sqlstore implements store.Store on database/sql for SQLite
// (modernc.org/sqlite, no cgo) and PostgreSQL (pgx through its stdlib
// driver). The two dialects share every query; only the schema, the way
// times are encoded and the row locking of ClaimOutbox differ.
//
// Open picks the dialect from the DSN: one starting with postgres:// or
// postgresql:// is PostgreSQL, anything else a SQLite file path or "file:"
// URI. It runs the embedded goose migrations of that dialect
// (migrations/sqlite, migrations/postgres) before returning.
//
// SQLite is opened in WAL mode with a busy timeout, foreign keys on and
// every transaction begun IMMEDIATE, so a transaction that writes never
// has to upgrade a read lock (the cause of SQLITE_BUSY errors the busy
// timeout cannot cure). Writes go through a pool of one connection, so
// the writers of one process queue in database/sql rather than poll
// SQLite's lock; listings use a separate pool of query_only readers. The
// busy timeout arbitrates between processes sharing the file. Times are stored as INTEGER unix milliseconds in
// STRICT tables; PostgreSQL stores timestamptz. In both a zero time.Time
// is NULL, and every time comes back in UTC truncated to the millisecond.
//
// Text is stored as valid UTF-8 without NUL (PostgreSQL cannot hold NUL in
// text): invalid bytes and NUL become U+FFFD on the way in, in every
// dialect, so a hostile event cannot wedge a tenant's feed. Detection.Raw
// is stored byte-exact.
//
// Claims are transactional in both dialects. PostgreSQL claims with
// UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED); SQLite claims
// inside an immediate transaction, which serializes writers across
// connections and processes sharing the file.
package sqlstore
