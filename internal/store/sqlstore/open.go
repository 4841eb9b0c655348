package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Dialect names, as Store.Dialect reports them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Defaults used by Open.
const (
	DefaultBusyTimeout        = 10 * time.Second // SQLite: how long a writer waits for the lock
	DefaultSQLiteMaxOpenConns = 4                // SQLite reader pool; WAL lets readers run beside the one writer
	DefaultPGMaxOpenConns     = 10
	migrationTable            = "puawatch_goose_version"
)

// Option configures Open.
type Option func(*config)

type config struct {
	logger   *slog.Logger
	onCreate func(path string)
}

// WithLogger logs the migrations Open applies. Without it Open is silent.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithCreated calls f with the file's path when Open created the SQLite
// database file (there was no store there), once the schema is in place:
// the command line says so, since a new store sends every detection
// again. It is not called for PostgreSQL or an in-memory database.
func WithCreated(f func(path string)) Option { return func(c *config) { c.onCreate = f } }

// Store is the database/sql implementation of store.Store. It is safe for
// concurrent use, and several Stores (in one process or several) may share
// one database.
type Store struct {
	// w runs every write. On SQLite it is a pool of one connection, so
	// the writers of a process queue in database/sql (first come, first
	// served) instead of polling SQLite's lock; the busy timeout is left
	// to arbitrate between processes. On PostgreSQL w and r are one pool.
	w *sql.DB
	// r runs the listings (Tenants, Outbox, Detections): on SQLite in WAL
	// mode they read beside the writer.
	r       *sql.DB
	dialect string
	name    string // the DSN with any password redacted, for errors
}

var _ store.Store = (*Store)(nil)

// Open opens (and creates when absent) the database dsn names and brings
// its schema up to date. A dsn starting with postgres:// or postgresql://
// (store.IsPostgresURL; the scheme in any case) is a PostgreSQL URL (pgx syntax: search_path=... and other run-time
// parameters may be given as query parameters); anything else is a SQLite
// file path or "file:" URI, created with mode 0600 when absent. Errors
// name the dsn with any password redacted.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	var (
		s   *Store
		err error
	)
	if store.IsPostgresURL(dsn) {
		s, err = openPostgres(ctx, dsn, cfg)
	} else {
		s, err = openSQLite(ctx, dsn, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", Redact(dsn), err)
	}
	return s, nil
}

// Redact is how errors show dsn: a PostgreSQL URL with its password
// replaced (urlpolicy.RedactPassword), a SQLite path as it is.
func Redact(dsn string) string {
	if !store.IsPostgresURL(dsn) {
		return dsn
	}
	return urlpolicy.RedactPassword(dsn)
}

func openPostgres(ctx context.Context, dsn string, cfg config) (*Store, error) {
	// pgx recognises only a lower-case scheme; with any other it reads the
	// URL as key=value settings.
	scheme, rest, _ := strings.Cut(dsn, "://")
	dsn = strings.ToLower(scheme) + "://" + rest
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(DefaultPGMaxOpenConns)
	db.SetMaxIdleConns(DefaultPGMaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Instances sharing a database take an advisory lock while migrating;
	// its id is derived from the database and schema so that instances in
	// other schemas (tests, several deployments) do not wait on each other.
	var where string
	if err := db.QueryRowContext(ctx, `SELECT current_database() || '.' || coalesce(current_schema(), '')`).Scan(&where); err != nil {
		db.Close()
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte("puawatch migrations " + where))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()>>1)),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{w: db, r: db, dialect: DialectPostgres, name: Redact(dsn)}
	if err := s.migrate(ctx, goose.DialectPostgres, "migrations/postgres", cfg, goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(ctx context.Context, dsn string, cfg config) (*Store, error) {
	path, query, memory, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	created := false
	if !memory {
		// Create the file ourselves so it is private from the start;
		// SQLite gives its -wal and -shm files the database file's mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			created = true
			if err := f.Close(); err != nil {
				return nil, err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return nil, err
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	q.Set("_txlock", "immediate")
	q.Del("_busy_timeout")
	q.Del("_timeout")
	pragmas := []string{
		"busy_timeout(" + strconv.FormatInt(DefaultBusyTimeout.Milliseconds(), 10) + ")",
		"foreign_keys(1)",
		"journal_mode(WAL)",
	}
	for _, p := range q["_pragma"] {
		name := strings.ToLower(strings.TrimSpace(p))
		if !strings.HasPrefix(name, "busy_timeout") && !strings.HasPrefix(name, "foreign_keys") && !strings.HasPrefix(name, "journal_mode") {
			pragmas = append(pragmas, p)
		}
	}
	q["_pragma"] = pragmas
	base := dsn
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		base = dsn[:i]
	}
	dsnFull := base + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsnFull)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r := w // every connection to :memory: is a database of its own
	if !memory {
		q.Set("_query_only", "1") // a write through the reader pool is a bug: make it fail
		if r, err = sql.Open("sqlite", base+"?"+q.Encode()); err != nil {
			w.Close()
			return nil, err
		}
		n := DefaultSQLiteMaxOpenConns
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
	}
	s := &Store{w: w, r: r, dialect: DialectSQLite, name: dsn}
	// Two processes migrating a new file at once can collide (goose has no
	// SQLite lock); each migration is a transaction, so trying again
	// after the other finished is safe.
	for attempt := 1; ; attempt++ {
		err = s.migrate(ctx, goose.DialectSQLite3, "migrations/sqlite", cfg)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	if err == nil {
		err = r.PingContext(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	if created && cfg.onCreate != nil {
		cfg.onCreate(path)
	}
	return s, nil
}

// sqlitePath splits a SQLite DSN into the file path, its query, and
// whether it names an in-memory database.
func sqlitePath(dsn string) (path, query string, memory bool, err error) {
	path = dsn
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		path, query = dsn[:i], dsn[i+1:]
	}
	if strings.HasPrefix(path, "file:") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", false, err
		}
		path = u.Path
		if u.Opaque != "" {
			if path, err = url.PathUnescape(u.Opaque); err != nil {
				return "", "", false, err
			}
		}
		memory = u.Query().Get("mode") == "memory"
	}
	if path == "" {
		return "", "", false, errors.New("no database file named")
	}
	memory = memory || path == ":memory:"
	return path, query, memory, nil
}

func (s *Store) migrate(ctx context.Context, dialect goose.Dialect, dir string, cfg config, opts ...goose.ProviderOption) error {
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	opts = append(opts,
		goose.WithTableName(migrationTable),
		goose.WithDisableGlobalRegistry(true),
		// A migration numbered below the database's version (00003, added
		// after 00004 and 00005 shipped) is applied, not refused.
		goose.WithAllowOutofOrder(true),
	)
	if cfg.logger != nil {
		// Not verbose: goose would log every statement of every migration
		// in full (the first run's log began with 27 lines of SQL).
		opts = append(opts, goose.WithSlog(cfg.logger))
	}
	p, err := goose.NewProvider(dialect, s.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	if err := errors.Join(s.w.PingContext(ctx), s.r.PingContext(ctx)); err != nil {
		return fmt.Errorf("sqlstore: ping %s: %w", s.name, err)
	}
	return nil
}

// Close closes the database. Calls made after Close fail.
func (s *Store) Close() error {
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.w.Close(), s.r.Close())
}
