// Package app wires puawatch together from its configuration: the Sophos
// Central client, the store, the matcher, the poller and the notification
// dispatcher with its channels. Once runs one sweep and sends what it
// found (cron); Run polls every interval until stopped (daemon).
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/certpool"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/instance"
	"github.com/puawatch/puawatch/internal/metrics"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/web"
)

// Deps are what the app takes from its caller.
type Deps struct {
	Logger *slog.Logger
	Stdout io.Writer // JSONL output "-"
	Now    func() time.Time
	// OnDetections is told of every page's new detections (the demo
	// prints them).
	OnDetections func(tenant central.Tenant, fresh []store.Detection)
	// Owner names this instance in outbox claims; "" makes one of the
	// host, the process and its start (package instance), so that the
	// next instance on this host takes over the claims of one that died.
	Owner string
	// OnNewStore is told the path of the SQLite file when New created a
	// new store (sqlstore.WithCreated); the command line prints it.
	OnNewStore func(path string)
	// OnProgress is told how a first read of every tenant goes (each
	// Once, and Run's first round); the command line shows it.
	OnProgress func(poll.Progress)
}

// App is a configured puawatch.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	store   store.Store
	client  *central.Client
	poller  *poll.Poller
	disp    *notify.Dispatcher
	mailer  *email.Notifier
	closers []func() error
	wake    chan struct{}
	ln      net.Listener // web.listen, bound by Listen before Run

	status *web.Status
	// metrics is the /metrics handler of the app's own registry.
	metrics http.Handler
}

// alarmEvery is how often the lag alarm mail repeats for a tenant.
const alarmEvery = time.Hour

// New builds the app. The store is opened (and migrated) here.
func New(ctx context.Context, cfg config.Config, d Deps) (*App, error) {
	base := d.Logger
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	// Each part names itself with the attribute component (app, central,
	// poll, notify, store).
	a := &App{cfg: cfg, log: base.With("component", "app"), now: d.Now, wake: make(chan struct{}, 1)}
	if a.now == nil {
		a.now = time.Now
	}
	a.status = web.NewStatus(a.now())
	if d.Stdout == nil {
		d.Stdout = os.Stdout
	}
	ok := false
	defer func() {
		if !ok {
			_ = a.Close()
		}
	}()

	// The app's own registry: the Go and process collectors, the parts'
	// instruments, and the store's collectors once it is open.
	reg := metrics.NewRegistry()
	var receivers []string
	for _, r := range cfg.EffectiveReceivers() {
		receivers = append(receivers, r.Name)
	}
	ms, err := metrics.New(reg, metrics.Options{Now: a.now, Receivers: receivers})
	if err != nil {
		return nil, err
	}
	a.metrics = metrics.Handler(reg, base)

	// The client tells the API's clock on the app's clock (from_date and
	// the 24-hour retention are judged on it).
	client, err := NewClient(cfg, base, func(o *central.Options) { o.Now, o.Observer = a.now, ms.Central() })
	if err != nil {
		return nil, err
	}
	a.client = client
	// What only reads the configuration comes before the store, so that a
	// configuration error is reported as one even when the store is down.
	tree, err := cfg.RouteTree()
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	m, err := cfg.Match.Matcher()
	if err != nil {
		return nil, &ConfigError{Err: err}
	}

	// A store that cannot be opened (the database is down, the file system
	// refuses) is a run-time failure.
	if err := cfg.Store.MakeStateDir(); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, cfg.Store.DB, sqlstore.WithLogger(base.With("component", "store")), sqlstore.WithCreated(d.OnNewStore))
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st.Close)
	if err := ms.CollectStore(st); err != nil {
		return nil, err
	}

	recv, err := BuildReceivers(cfg, d.Stdout)
	if err != nil {
		return nil, receiversError(err)
	}
	a.closers = append(a.closers, recv.Close)
	a.mailer = recv.Mailer
	channels := recv.Notifiers
	if len(channels) == 0 {
		a.log.Warn("no notification channel configured: detections are only stored (set PUAWATCH_SMTP_URL or PUAWATCH_JSONL, or receivers)")
	}
	// The claims of an instance of this host whose process ended are
	// taken over at once, not after their lease.
	self := instance.Current(time.Now())
	a.disp, err = notify.NewDispatcher(notify.Options{
		Store: st, Channels: channels, Owner: cmp.Or(d.Owner, self.ID()), Gone: self.Gone, Lease: time.Duration(cfg.Notify.Lease),
		BackoffBase: time.Duration(cfg.Notify.BackoffBase), BackoffMax: time.Duration(cfg.Notify.BackoffMax),
		MaxAttempts: cfg.Notify.MaxAttempts, Now: a.now, Logger: base, Observer: ms.Notify(),
	})
	if err != nil {
		return nil, &ConfigError{Err: err}
	}

	onCommit := func(t central.Tenant, fresh []store.Detection) {
		if d.OnDetections != nil {
			d.OnDetections(t, fresh)
		}
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	a.poller, err = poll.New(poll.Options{
		Source: client, Store: st, Matcher: m, Route: tree.Deliveries,
		Include: cfg.Tenants.Include, Exclude: cfg.Tenants.Exclude, TenantName: cfg.Sophos.TenantName,
		TenantRefresh: time.Duration(cfg.Tenants.Refresh), Lookback: time.Duration(cfg.Poll.Lookback), Initial: cfg.Poll.Initial,
		Overlap: time.Duration(cfg.Poll.Overlap), OverlapEvery: time.Duration(cfg.Poll.OverlapEvery), LagAlarm: time.Duration(cfg.Poll.LagAlarm),
		PageLimit: cfg.Poll.PageLimit, Workers: cfg.Poll.Workers, OffsetMinutes: cfg.Poll.OffsetMinutes,
		Now: a.now, Logger: base, OnCommit: onCommit, Progress: d.OnProgress, Observer: ms.Poll(),
	})
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	ok = true
	return a, nil
}

// NewClient makes the Sophos Central client of cfg's sophos section
// (credentials, auth_url, api_url, ca_file, timeout) and poll.limits.
// Every command that talks to Sophos Central gets its client here. tune,
// when given, adjusts the options last (an interactive command retries
// less). Every error is a *ConfigError: nothing is asked of the network.
func NewClient(cfg config.Config, logger *slog.Logger, tune ...func(*central.Options)) (*central.Client, error) {
	roots, err := certpool.Load(cfg.Sophos.CAFile)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("sophos.ca_file: %w", err)}
	}
	o := central.Options{
		AuthURL: cfg.Sophos.AuthURL, APIURL: cfg.Sophos.APIURL, RootCAs: roots,
		Timeout: time.Duration(cfg.Sophos.Timeout), Logger: logger,
		Limits: central.Limits{PerSecond: cfg.Poll.Limits.PerSecond, PerMinute: cfg.Poll.Limits.PerMinute, MinuteBurst: cfg.Poll.Limits.MinuteBurst},
	}
	for _, f := range tune {
		f(&o)
	}
	c, err := central.New(central.Credentials{ClientID: cfg.Sophos.ClientID, ClientSecret: cfg.Sophos.ClientSecret}, o)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return c, nil
}

// ConfigError is an error of the configuration found while building from
// it: a value that cannot be used (a CA file holding no certificate, a
// template that does not parse, a bad URL). The command line exits 2 for
// it. Every other error of New is a run-time failure (the store cannot be
// opened, the network), exit status 1.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is (or wraps) a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// receiversError classifies an error of BuildReceivers: the file system
// refusing to open a file (a JSONL output) is a run-time failure, the rest
// (URLs, templates, CA files, time zones) is the configuration's.
func receiversError(err error) error {
	var pe *fs.PathError
	if IsConfigError(err) || errors.As(err, &pe) {
		return err
	}
	return &ConfigError{Err: err}
}

// Close releases the store and the channels.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	if a.ln != nil {
		errs = append(errs, a.ln.Close())
		a.ln = nil
	}
	return errors.Join(errs...)
}

// Outcome is what a sweep and its sending came to.
type Outcome struct {
	Report poll.Report
	Sent   notify.Result
	// Started is when the run began (the app's clock).
	Started time.Time
	// Outbox counts the outbox rows at the end of the run by receiver and
	// state (store.OutboxCounts since Started: the dead rows' Since are
	// those that died during the run).
	Outbox []store.OutboxCount
}

// What a run left undelivered (Undelivered.State).
const (
	DeadInRun  = "dead in this run"       // went dead during the run: exit status 1
	Unsent     = "unsent"                 // pending after a failed attempt, waiting for a retry: exit status 1
	DeadBefore = "dead from earlier runs" // dead before the run began: reported, exit status unaffected
)

// Undelivered is what a run left undelivered on one receiver in one
// state (DeadInRun, Unsent or DeadBefore).
type Undelivered struct {
	Receiver string
	State    string
	Rows     int
	// Reason is the latest failure's, as stored (the channels hide their
	// secrets before they store it); it is endpoint and server text, not
	// yet cleaned for a terminal.
	Reason string
}

// Undelivered lists what the run left undelivered, by receiver: the
// notifications that went dead during it, those still unsent after a
// failed attempt, and the dead ones from earlier runs.
func (o Outcome) Undelivered() []Undelivered {
	var out []Undelivered
	for _, c := range o.Outbox { // by receiver, then state
		switch c.State {
		case store.StateDead:
			if c.Since > 0 {
				out = append(out, Undelivered{Receiver: c.Channel, State: DeadInRun, Rows: c.Since, Reason: c.LastError})
			}
			if n := c.Rows - c.Since; n > 0 {
				out = append(out, Undelivered{Receiver: c.Channel, State: DeadBefore, Rows: n, Reason: c.LastError})
			}
		case store.StatePending:
			if c.Failed > 0 {
				out = append(out, Undelivered{Receiver: c.Channel, State: Unsent, Rows: c.Failed, Reason: c.LastError})
			}
		}
	}
	return out
}

// Once reads every tenant once, then sends everything that is due,
// rows that a dead instance of this host held included; rows that another
// running instance holds it waits for, at most one lease, and fails when
// they are still held. At the end it counts the outbox by receiver and
// state (Outcome.Outbox), so that the exit status tells of notifications
// that went dead or are left unsent (ExitStatus).
func (a *App) Once(ctx context.Context) (Outcome, error) {
	start := a.now()
	rep, err := a.poller.Sweep(ctx)
	out := Outcome{Report: rep, Started: start}
	a.logSweep(rep, err)
	a.status.Sweep(rep, err)
	// Send even when the sweep failed or was stopped: what is stored is due.
	res, derr := a.disp.Drain(context.WithoutCancel(ctx))
	if derr == nil && ctx.Err() == nil {
		var held notify.Result
		held, derr = a.disp.AwaitHeld(ctx)
		res = res.Plus(held)
	}
	out.Sent = res
	if err == nil {
		err = derr
	}
	a.alarm(ctx, rep)
	counts, cerr := a.store.OutboxCounts(context.WithoutCancel(ctx), start)
	out.Outbox = counts
	if err == nil && cerr != nil {
		err = fmt.Errorf("count the notifications left: %w", cerr)
	}
	return out, err
}

// Drain sends everything that is due now (the demo's last word).
func (a *App) Drain(ctx context.Context) (notify.Result, error) { return a.disp.Drain(ctx) }

// Run reads each tenant on its own schedule (poll.Poller.Run: due again
// poll.interval after its read ended, later with backoff after a
// failure) and sends as detections arrive, until ctx is cancelled; then
// it finishes the pages in hand, stops sending, gives back the claims of
// the rows it had not sent (another instance sends them at once) and
// returns. The status (/readyz) keeps each tenant's latest
// result; every round (each tenant read once) is logged and alarms the
// tenants lagging or with lost events. A refused credential ends it.
func (a *App) Run(ctx context.Context) error {
	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.disp.Run(dctx, 15*time.Second, a.wake); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("dispatcher stopped", "error", err)
		}
	}()
	defer func() {
		stopDispatch()
		wg.Wait()
	}()
	stopServer, err := a.serve()
	if err != nil {
		return err
	}
	defer stopServer()
	return a.poller.Run(ctx, time.Duration(a.cfg.Poll.Interval), poll.Hooks{
		Result: func(r poll.TenantResult) {
			a.status.Tenant(r)
			a.log.Debug("tenant read", "tenant_id", r.TenantID, "tenant", r.TenantName, "pages", r.Pages, "events", r.Events,
				"new_detections", r.New, "lag", r.Lag.Round(time.Second), "error", r.Err)
		},
		Round: func(rep poll.Report) {
			a.logSweep(rep, nil)
			a.status.Round()
			a.alarm(ctx, rep)
			select {
			case a.wake <- struct{}{}:
			default:
			}
		},
		Tenants: func(ts []central.Tenant) {
			ids := make([]string, len(ts))
			for i, t := range ts {
				ids[i] = t.ID
			}
			a.status.List(ids, nil)
		},
		ListFailed: func(err error) bool {
			a.status.List(nil, err)
			return CredentialsRejected(err) // polling again will not mend it
		},
	})
}

func (a *App) logSweep(rep poll.Report, err error) {
	if err != nil {
		a.log.Error("sweep failed", "error", err)
		return
	}
	pages, events, fresh := rep.Totals()
	a.log.Info("sweep", "tenants", len(rep.Tenants), "failed", len(rep.Failed()), "lagging", len(rep.Lagging()),
		"lost", len(rep.Lost()), "pages", pages, "events", events, "new_detections", fresh, "took", rep.Ended.Sub(rep.Started).Round(time.Millisecond))
}

// alarm tells people of tenants over the lag alarm and of tenants whose
// events may be lost (poll.TenantResult.Lost), by e-mail when it is
// configured (the log has it in any case): one mail per sweep, listing
// the lost windows first. A tenant is in at most one such mail an hour,
// across processes: the throttle is an alarm slot per tenant in the store
// (store.TakeAlarmSlot), so cron runs do not mail at every run and two
// runs at once mail once. When the mail fails, the slots are given back
// and the next sweep tries again.
func (a *App) alarm(ctx context.Context, rep poll.Report) {
	if a.mailer == nil {
		return
	}
	now := a.now()
	var due []poll.TenantResult
	for _, t := range rep.Tenants {
		if !t.Lagging && t.Lost == nil {
			continue
		}
		ok, err := a.store.TakeAlarmSlot(ctx, t.TenantID, now, alarmEvery)
		if err != nil {
			a.log.Error("alarm throttle: the store did not answer; no alarm mail this time", "tenant_id", t.TenantID, "tenant", t.TenantName, "error", err)
			continue
		}
		if ok {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return
	}
	var b strings.Builder
	var subject []string
	lost, lagging := 0, 0
	for _, t := range due {
		if w := t.Lost; w != nil {
			lost++
			fmt.Fprintf(&b, "%s (%s): %s\n", t.TenantName, t.TenantID, LostText(*w))
		}
	}
	for _, t := range due {
		if !t.Lagging {
			continue
		}
		lagging++
		fmt.Fprintf(&b, "%s (%s): not read to the end for %s", t.TenantName, t.TenantID, t.Lag.Round(time.Minute))
		if t.Err != nil {
			fmt.Fprintf(&b, "; last error: %v", t.Err)
		}
		b.WriteString("\n")
	}
	if lost > 0 {
		subject = append(subject, fmt.Sprintf("events lost in %d tenant(s)", lost))
	}
	if lagging > 0 {
		subject = append(subject, fmt.Sprintf("%d tenant(s) lagging", lagging))
	}
	if err := a.mailer.Alarm(ctx, strings.Join(subject, ", "), b.String()); err != nil {
		a.log.Error("lag alarm mail failed; the next sweep tries again", "error", err)
		// Not sent: the slots are given back, even when ctx is done.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, t := range due {
			if err := a.store.ReleaseAlarmSlot(rctx, t.TenantID, now); err != nil {
				a.log.Error("alarm throttle: could not give back the slot of an unsent alarm; it is mailed an hour later", "tenant_id", t.TenantID, "error", err)
			}
		}
	}
}

// LostText says which events of a lost window may never be read, and
// why: "events created from 2025-03-09T12:00:00Z to 2025-03-09T18:00:00Z
// (UTC, the API's clock) may be lost: <reason>".
func LostText(w store.LostWindow) string {
	s := fmt.Sprintf("events created from %s to %s (UTC, the API's clock) may be lost",
		w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
	if w.Reason != "" {
		s += ": " + w.Reason
	}
	return s
}

// ExitStatus is the exit status of a --once run: 0 when every tenant was
// read, none is lagging, no events were lost, and no notification went
// dead during the run or is left unsent after a failed attempt; 1
// otherwise. Notifications that were dead before the run began do not
// change it: that run exited 1 for them, and `puawatch status` exits 1
// while any are left.
func ExitStatus(o Outcome, err error) int {
	if err != nil || len(o.Report.Failed()) > 0 || len(o.Report.Lagging()) > 0 || len(o.Report.Lost()) > 0 {
		return 1
	}
	for _, u := range o.Undelivered() {
		if u.State != DeadBefore {
			return 1
		}
	}
	return 0
}

// CredentialsRejected reports whether err is Sophos Central refusing the
// client id or secret: a configuration error, not a passing failure.
func CredentialsRejected(err error) bool {
	var ae *central.APIError
	return errors.As(err, &ae) && ae.Op == "token" && ae.Status >= 400 && ae.Status < 500 && ae.Status != 429 && ae.Status != 408
}
