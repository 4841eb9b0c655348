package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/spf13/cobra"
)

// demoFlags are the flags of `puawatch demo`.
type demoFlags struct {
	tenants  int
	backlog  int
	rate     float64
	seed     int64
	interval time.Duration
	duration time.Duration
	db       string
	digest   bool
	verbose  bool
}

func newDemoCmd(e *env) *cobra.Command {
	f := &demoFlags{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole thing on an embedded default: simulator, SMTP capture and watcher",
		Long: `Start a simulated Sophos Central (a partner with 25 tenants, a backlog and a
live event stream), an in-process SMTP server that captures mail, and the
watcher, configured to read the simulator and mail the capture. Every new
detection and every mail it produced is printed. Runs until interrupted
(or for --duration).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runDemo(cmd.Context(), e, f) },
	}
	fl := c.Flags()
	fl.IntVar(&f.tenants, "tenants", 25, "tenants of the simulated partner")
	fl.IntVar(&f.backlog, "backlog", 12, "backlog events per tenant at start")
	fl.Float64Var(&f.rate, "rate", 2, "live events per second, all tenants together")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the simulated data")
	fl.DurationVar(&f.interval, "interval", 5*time.Second, "poll interval")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fl.StringVar(&f.db, "db", "", "store file (default: a temporary file, removed at the end)")
	fl.BoolVar(&f.digest, "digest", false, "one mail per tenant per sweep instead of one per detection")
	fl.BoolVar(&f.verbose, "verbose", false, "show the watcher's log")
	return c
}

// lockedWriter serialises the demo's output lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, a...)
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func runDemo(ctx context.Context, e *env, f *demoFlags) error {
	if f.tenants < 1 {
		return usagef("--tenants must be at least 1")
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	out := &lockedWriter{w: e.stdout}

	scfg := sim.DefaultConfig()
	scfg.Seed, scfg.Tenants, scfg.EventsPerTenant, scfg.Rate = f.seed, f.tenants, f.backlog, f.rate
	scfg.Backlog = 2 * time.Hour
	scfg.Limits = sim.SophosLimits()
	s := sim.New(scfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		return err
	}
	defer srv.Close()

	var mails, mailed int
	var mailMu sync.Mutex
	eventID := regexp.MustCompile(`(?m)^Event id:`)
	capture, err := smtpcapture.Start(smtpcapture.Options{OnMessage: func(m smtpcapture.Message) {
		k := len(eventID.FindAllString(m.Text, -1))
		mailMu.Lock()
		mails++
		mailed += k
		n := mails
		mailMu.Unlock()
		out.printf("  mail #%d to %s: %s (%d detection(s))\n", n, strings.Join(m.To, ", "), cell(m.Subject, 120), k)
	}})
	if err != nil {
		return err
	}
	defer capture.Close()

	db := f.db
	if db == "" {
		dir, err := os.MkdirTemp("", "puawatch-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "puawatch.db")
	}
	partner, _ := s.Credential("partner")
	env := map[string]string{
		"PUAWATCH_CLIENT_ID":     partner.ClientID,
		"PUAWATCH_CLIENT_SECRET": partner.ClientSecret,
		"PUAWATCH_AUTH_URL":      s.TokenURL(),
		"PUAWATCH_API_URL":       srv.GlobalURL,
		"PUAWATCH_DB":            db,
		"PUAWATCH_SMTP_URL":      fmt.Sprintf("smtp://%s?starttls=none", capture.Addr()),
		"PUAWATCH_MAIL_FROM":     "puawatch demo <puawatch@demo.invalid>",
		"PUAWATCH_MAIL_TO":       "soc@demo.invalid",
	}
	cfg, err := config.Load(config.LoadOptions{Env: func(k string) string { return env[k] }})
	if err != nil {
		return err
	}
	cfg.Poll.Interval = config.Duration(f.interval)
	cfg.Poll.OverlapEvery = config.Duration(time.Minute)
	// The dashboard on a free port of this machine (open: loopback only).
	cfg.Web.Listen = "127.0.0.1:0"
	if f.digest {
		zero := 0
		cfg.Route = &route.Spec{DigestAbove: &zero}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	log := slog.New(slog.DiscardHandler)
	if f.verbose {
		log = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	var detections int
	a, err := app.New(ctx, cfg, app.Deps{Logger: log, Stdout: e.stdout, OnDetections: func(t central.Tenant, fresh []store.Detection) {
		for _, d := range fresh {
			mailMu.Lock()
			detections++
			mailMu.Unlock()
			out.printf("detection  %-28s %-18s %-26s %s\n", cell(t.DisplayName(), 28), cell(d.Location, 18), cell(d.Threat, 26), strings.TrimPrefix(d.Type, "Event::Endpoint::"))
		}
	}})
	if err != nil {
		return err
	}
	defer a.Close()
	addr, err := a.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "puawatch demo: the dashboard is at http://%s/\n\n", addr)
	fmt.Fprintf(out, "  simulated Sophos Central  %s  (partner with %d tenants, %.3g live events/s)\n", srv.GlobalURL, f.tenants, f.rate)
	fmt.Fprintf(out, "  SMTP capture             %s\n  store                    %s\n\n", capture.Addr(), db)
	fmt.Fprintf(out, "  try: PUAWATCH_DB=%s go run ./cmd/puawatch detections\n\n", db)
	fmt.Fprintf(out, "Detections and the mails they produced appear below. Ctrl-C stops.\n\n")
	if err := a.Run(ctx); err != nil {
		return err
	}
	// Send what the last sweep found before the summary.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := a.Drain(dctx); err != nil {
		return err
	}
	mailMu.Lock()
	defer mailMu.Unlock()
	fmt.Fprintf(out, "\n%d detections, %d mailed in %d mails captured.\n", detections, mailed, mails)
	return nil
}
