package cli

import (
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/spf13/cobra"
)

func newRunCmd(e *env) *cobra.Command {
	var cf configFlags
	var once bool
	var initial string
	c := &cobra.Command{
		Use:   "run",
		Short: "Watch Sophos Central and notify every PUA detection once (daemon, or --once for cron)",
		Long: `Read the SIEM events of every tenant the credential sees, store each PUA
detection once and notify it through the configured channels.

Without --once it polls every poll.interval until SIGINT or SIGTERM, then
finishes the page in hand and stops. With --once it reads every tenant once,
sends what is due and exits: 0 when every tenant was read, 1 when a tenant
failed, is lagging or may have lost events past the API's 24 hours (a line
per tenant on stderr), 2 for a usage or configuration error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load(e)
			if err != nil {
				return err
			}
			if initial != "" {
				if initial != "notify" && initial != "silent" {
					return usagef("--initial must be notify or silent, not %q", initial)
				}
				cfg.Poll.Initial = initial
			}
			// Progress of a pass over the tenants on stderr; the log writes
			// through it, so that a log line does not land in its line.
			prog := newProgress(e.stderr, isTerminal, time.Now)
			defer prog.Close()
			log := logger(prog, cfg.Log)
			prog.setLogger(log)
			a, err := app.New(cmd.Context(), cfg, app.Deps{Logger: log, Stdout: e.stdout, OnNewStore: e.newStore, OnProgress: prog.Update})
			if err != nil {
				return err // exit 2 for an *app.ConfigError, else 1
			}
			defer a.Close()
			if !once {
				if err := a.Run(cmd.Context()); app.CredentialsRejected(err) {
					return usageError{err}
				} else if err != nil {
					return err
				}
				return nil
			}
			out, err := a.Once(cmd.Context())
			prog.Close()
			if app.CredentialsRejected(err) {
				return usageError{fmt.Errorf("%w: check the client id and secret (puawatch login, or PUAWATCH_CLIENT_ID and PUAWATCH_CLIENT_SECRET)", err)}
			}
			for _, t := range out.Report.Failed() {
				fmt.Fprintf(e.stderr, "puawatch: tenant %s (%s) failed: %v\n", t.TenantName, t.TenantID, t.Err)
			}
			for _, t := range out.Report.Lost() {
				fmt.Fprintf(e.stderr, "puawatch: tenant %s (%s): %s\n", t.TenantName, t.TenantID, app.LostText(*t.Lost))
			}
			for _, t := range out.Report.Lagging() {
				fmt.Fprintf(e.stderr, "puawatch: tenant %s (%s) lagging: not read to the end for %s\n", t.TenantName, t.TenantID, t.Lag.Round(1e9))
			}
			if code := app.ExitStatus(out, err); code != 0 {
				if err == nil {
					err = fmt.Errorf("%d tenant(s) failed, %d lagging, %d with lost events", len(out.Report.Failed()), len(out.Report.Lagging()), len(out.Report.Lost()))
				}
				return &exitCodeError{code: code, msg: err.Error()}
			}
			return nil
		},
	}
	cf.register(c)
	c.Flags().BoolVar(&once, "once", false, "read every tenant once, send, and exit (for cron)")
	c.Flags().StringVar(&initial, "initial", "", "first read of a tenant: notify (send what it finds) or silent (only store it); overrides poll.initial")
	return c
}
