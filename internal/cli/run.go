package cli

import (
	"fmt"
	"net/url"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/secret"
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
sends what is due and exits: 0 when every tenant was read and every
notification sent, 1 when a tenant failed, is lagging or may have lost events
past the API's 24 hours (a line per tenant on stderr), or when notifications
went dead during the run or are left unsent after a failed attempt (a line
per receiver on stderr: the count, the reason and the command that sends
them again), 2 for a usage or configuration error. Notifications dead from
earlier runs get a line too, but leave the exit status as it is (puawatch
status exits 1 while any are left).`,
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
			hide := secretsOf(cfg)
			dead, unsent := 0, 0
			for _, u := range out.Undelivered() {
				fmt.Fprintln(e.stderr, undeliveredLine(u, cf, hide))
				switch u.State {
				case app.DeadInRun:
					dead += u.Rows
				case app.Unsent:
					unsent += u.Rows
				}
			}
			if code := app.ExitStatus(out, err); code != 0 {
				if err == nil {
					err = fmt.Errorf("%d tenant(s) failed, %d lagging, %d with lost events; %d notification(s) went dead, %d unsent",
						len(out.Report.Failed()), len(out.Report.Lagging()), len(out.Report.Lost()), dead, unsent)
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

// undeliveredLine is the stderr line of what a run left undelivered on a
// receiver: the count, the state, the reason (cleaned for a terminal, the
// configuration's secrets hidden) and the command that sends them again.
func undeliveredLine(u app.Undelivered, cf configFlags, hide []string) string {
	reason := secret.Scrub(cell(u.Reason, 300), hide...)
	if reason == "" {
		reason = "no reason stored"
	}
	retry := retryCommand(u.Receiver, cf)
	switch u.State {
	case app.Unsent:
		return fmt.Sprintf("puawatch: receiver %s: %d notification(s) unsent after a failed attempt: %s; the next run retries them, or send them now with: %s",
			cell(u.Receiver, 64), u.Rows, reason, retry)
	default:
		return fmt.Sprintf("puawatch: receiver %s: %d notification(s) %s: %s; send them again with: %s", cell(u.Receiver, 64), u.Rows, u.State, reason, retry)
	}
}

// retryCommand is the command line that sends receiver's dead and unsent
// notifications again, with the configuration file of this command.
func retryCommand(receiver string, cf configFlags) string {
	c := "puawatch outbox retry --receiver " + config.ShellQuote(plaintext.Clean(receiver))
	if cf.path != "" {
		c += " --config " + config.ShellQuote(cf.path)
	}
	return c
}

// secretsOf lists the secrets cfg holds, for secret.Scrub: the value of
// every secret.Secret in it (the client secret, the SMTP URL, webhook
// URLs, tokens) and, of those that are URLs, the password.
func secretsOf(cfg config.Config) []string {
	var out []string
	_, _ = yaml.MarshalWithOptions(cfg, yaml.CustomMarshaler[secret.Secret](func(s secret.Secret) ([]byte, error) {
		v := s.Reveal()
		if v == "" {
			return []byte(`""`), nil
		}
		out = append(out, v)
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw, url.QueryEscape(pw))
			}
		}
		return []byte(`""`), nil
	}))
	return out
}
