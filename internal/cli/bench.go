package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/puawatch/puawatch/internal/bench"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/spf13/cobra"
)

func newBenchCmd(e *env) *cobra.Command {
	var format string
	o := bench.Options{Scale: "full", Scenarios: bench.ScenarioNames()}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the watcher against the simulator, each in its own process, and print one table",
		Long: `Start the simulator (puawatch sim) as a child process on free loopback
ports with the documented rate limits and no faults, run the watcher against
it as another, and print one table: per scenario the tenants, events,
detections (the JSONL lines, checked against what the simulator generated),
wall time, events a second, API calls and 429s (the simulator's counters), CPU
seconds and peak RSS of the watcher's process, and goroutines (the daemon's
/metrics; run --once serves none).

Scenarios:
  backlog  run --once drains N tenants x M events (full: 100 x 10,000 and
           40 x 5,000; small: 40 x 5,000; tiny: 3 x 200) with a fresh SQLite
           store and a JSONL receiver; beside it "the limit": the same feed
           fetched and decoded with 8 workers by the project's own client and
           nothing else, in its own process, and the ratio of the two
  idle     1,000 tenants (tiny: 20) with nothing new at 20 ms a request: a
           first run --once drains them, the second is timed; a 429 fails it
  live     the daemon at a 1 s interval against a steady stream on 50 tenants
           (tiny: 3), mail to an in-process SMTP server: the latency from an
           event's created_at to the mail being accepted, p50 and p99

The machine is shared by the simulator and the watcher; compare figures of
the same run. Exit status: 0 when every scenario ran, 1 when one failed (each
is named), 2 for a bad flag.`,
		Example: `  puawatch bench
  puawatch bench --scenarios backlog --scale small --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usagef("--format must be text or json, not %q", format)
			}
			if o.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("the running executable: %w (give --binary)", err)
				}
				o.Binary = exe
			}
			if err := o.Check(); err != nil {
				return usageError{err}
			}
			o.Environ = os.Environ()
			o.Progress = e.stderr
			rep := bench.Run(cmd.Context(), o)
			var err error
			if format == "json" {
				err = bench.WriteJSON(e.stdout, rep)
			} else {
				err = bench.WriteText(e.stdout, rep)
			}
			if err != nil {
				return err
			}
			if failed := rep.Failed(); len(failed) > 0 {
				names := make([]string, len(failed))
				for i, r := range failed {
					names[i] = r.Scenario
				}
				return &exitCodeError{code: ExitFailure, msg: "bench: failed: " + strings.Join(names, ", ")}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Scale, "scale", o.Scale, "sizes of the scenarios: "+strings.Join(bench.Scales(), ", "))
	fl.StringSliceVar(&o.Scenarios, "scenarios", o.Scenarios, "scenarios to run, in this order: "+strings.Join(bench.ScenarioNames(), ", "))
	fl.StringVar(&format, "format", "text", "output: text (a table) or json")
	fl.StringVar(&o.Binary, "binary", "", "the puawatch executable to run as simulator and watcher (default: this one)")
	fl.StringVar(&o.TempDir, "temp-dir", "", "where each scenario's store and files go (default: the system's temporary directory)")
	c.AddCommand(newBenchLimitCmd(e))
	return c
}

// newBenchLimitCmd is the limit of `puawatch bench`, run as its own
// process: it reads the feed the PUAWATCH_* variables point at (the
// credential and the URLs: never in its arguments, which other users
// see) and prints a bench.LimitResult.
func newBenchLimitCmd(e *env) *cobra.Command {
	o := bench.LimitOptions{Workers: bench.LimitWorkers}
	c := &cobra.Command{
		Use:    "limit",
		Short:  "Fetch and decode every events page of every tenant and nothing else (the reference of puawatch bench)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Workers < 1 {
				return usagef("--workers %d is out of range: give 1 or more", o.Workers)
			}
			o.Credentials = central.Credentials{ClientID: e.getenv("PUAWATCH_CLIENT_ID"), ClientSecret: secret.Secret(e.getenv("PUAWATCH_CLIENT_SECRET"))}
			o.AuthURL, o.APIURL = e.getenv("PUAWATCH_AUTH_URL"), e.getenv("PUAWATCH_API_URL")
			if o.Credentials.ClientID == "" || o.Credentials.ClientSecret.Empty() || o.AuthURL == "" || o.APIURL == "" {
				return usagef("set PUAWATCH_CLIENT_ID, PUAWATCH_CLIENT_SECRET, PUAWATCH_AUTH_URL and PUAWATCH_API_URL: the feed to read")
			}
			res, err := bench.Limit(cmd.Context(), o)
			if err != nil {
				return err
			}
			return json.NewEncoder(e.stdout).Encode(res)
		},
	}
	c.Flags().IntVar(&o.Workers, "workers", o.Workers, "tenants read at once")
	return c
}
