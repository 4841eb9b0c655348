package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/spf13/cobra"
)

func newStatusCmd(e *env) *cobra.Command {
	var cf configFlags
	var db, format string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show each tenant's progress and the outbox by receiver; exit 1 when something needs attention",
		Long: `Read the store and show each tenant (name, id, last complete read, lag,
the cursor's age against the API's 24 hours, lost windows, last error) and the
outbox by receiver and state.

It exits 1, naming each reason on stderr, when a tenant is failing (its last
read failed), lagging (not read to the end for longer than poll.lag_alarm),
has a window of possibly lost events found in the last 24 hours, or when a
receiver has dead notifications; 0 otherwise; 2 for a usage or configuration
error. Removed tenants are shown, not judged.

--format json prints one object:
  {"checked_at", "ok", "problems": [text],
   "tenants": [{"id", "name", "region", "removed", "state", "last_read",
     "lag_seconds", "lagging", "cursor_at", "cursor_age_seconds",
     "cursor_left_seconds", "lost_windows": [{"from", "to", "reason",
     "detected_at"}], "last_error", "error_at"}],
   "outbox": [{"receiver", "pending", "retrying", "sent", "dead",
     "first_due", "last_error"}]}
Times are RFC 3339 UTC with milliseconds, or null; state is ok, failing,
lagging, lost or removed; cursor_* are null when the cursor does not tell its
position. Text fields hold what the store holds (secrets hidden); the table
also strips control characters.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usagef("--format must be table or json, not %q", format)
			}
			// --db stands for PUAWATCH_DB, also while the configuration
			// is checked (it needs a store).
			le := *e
			if db != "" {
				le.lookup = func(k string) string {
					if k == "PUAWATCH_DB" {
						return db
					}
					return e.getenv(k)
				}
			}
			cfg, err := cf.load(&le)
			if err != nil {
				return err
			}
			if err := cfg.Store.MakeStateDir(); err != nil {
				return err
			}
			st, err := sqlstore.Open(cmd.Context(), cfg.Store.DB, sqlstore.WithCreated(e.newStore))
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := buildStatus(cmd.Context(), st, time.Duration(cfg.Poll.LagAlarm), time.Now(), func(receiver string) string { return retryCommand(receiver, cf) })
			if err != nil {
				return err
			}
			hide := secretsOf(cfg)
			rep.scrub(hide)
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.writeTable(e.stdout)
			}
			if err != nil {
				return err
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(e.stderr, "puawatch: "+cell(p, 600))
			}
			if !rep.OK {
				return &exitCodeError{code: ExitFailure, msg: fmt.Sprintf("%d problem(s) need attention", len(rep.Problems))}
			}
			return nil
		},
	}
	cf.register(c)
	c.Flags().StringVar(&db, "db", "", "store to read (default: PUAWATCH_DB, else store.db of the configuration, else puawatch.db in the state directory)")
	c.Flags().StringVar(&format, "format", "table", "output format: table or json (one object, see above)")
	return c
}

// jsonTime is a time in the status JSON: detectionjson.Time (UTC, three
// fraction digits, null when zero).
type jsonTime = detectionjson.Time

// secs is d in seconds for the status JSON (a nil *float64 is null: not
// known).
func secs(d time.Duration) *float64 { v := d.Seconds(); return &v }

type statusReport struct {
	CheckedAt jsonTime         `json:"checked_at"`
	OK        bool             `json:"ok"`
	Problems  []string         `json:"problems"`
	Tenants   []tenantStatus   `json:"tenants"`
	Outbox    []receiverStatus `json:"outbox"`
}

type tenantStatus struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Region     string       `json:"region"`
	Removed    bool         `json:"removed"`
	State      string       `json:"state"`
	LastRead   jsonTime     `json:"last_read"`
	Lag        *float64     `json:"lag_seconds"`
	Lagging    bool         `json:"lagging"`
	CursorAt   jsonTime     `json:"cursor_at"`
	CursorAge  *float64     `json:"cursor_age_seconds"`
	CursorLeft *float64     `json:"cursor_left_seconds"`
	Lost       []lostStatus `json:"lost_windows"`
	LastError  string       `json:"last_error"`
	ErrorAt    jsonTime     `json:"error_at"`

	lag, cursorAge time.Duration
	hasCursor      bool
	recentLost     int
}

type lostStatus struct {
	From       jsonTime `json:"from"`
	To         jsonTime `json:"to"`
	Reason     string   `json:"reason"`
	DetectedAt jsonTime `json:"detected_at"`
}

type receiverStatus struct {
	Receiver  string   `json:"receiver"`
	Pending   int      `json:"pending"`
	Retrying  int      `json:"retrying"`
	Sent      int      `json:"sent"`
	Dead      int      `json:"dead"`
	FirstDue  jsonTime `json:"first_due"`
	LastError string   `json:"last_error"` // the dead rows' latest reason, else the pending rows'
}

// buildStatus reads the store and judges it at now; retry is the command
// that sends a receiver's dead notifications again.
func buildStatus(ctx context.Context, st store.Store, lagAlarm time.Duration, now time.Time, retry func(receiver string) string) (*statusReport, error) {
	ts, err := st.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	lost, err := st.LostWindows(ctx, "")
	if err != nil {
		return nil, err
	}
	counts, err := st.OutboxCounts(ctx, now)
	if err != nil {
		return nil, err
	}
	rep := &statusReport{CheckedAt: jsonTime{Time: now}, Problems: []string{}, Tenants: []tenantStatus{}, Outbox: []receiverStatus{}}
	byTenant := map[string][]store.LostWindow{}
	for _, w := range lost {
		byTenant[w.TenantID] = append(byTenant[w.TenantID], w)
	}
	slices.SortFunc(ts, func(a, b store.Tenant) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	for _, t := range ts {
		s := tenantStatus{ID: t.ID, Name: t.Name, Region: t.Region, Removed: t.Removed, LastRead: jsonTime{Time: t.LastRead},
			LastError: t.LastError, ErrorAt: jsonTime{Time: t.ErrorAt}, Lost: []lostStatus{}}
		h := poll.Judge(t, byTenant[t.ID], now, lagAlarm)
		if h.HasLag {
			s.lag, s.Lag, s.Lagging = h.Lag, secs(h.Lag), h.Lagging
		}
		if h.HasCursor {
			s.hasCursor, s.cursorAge = true, h.CursorAge
			s.CursorAt, s.CursorAge, s.CursorLeft = jsonTime{Time: h.CursorAt}, secs(h.CursorAge), secs(central.Retention-h.CursorAge)
		}
		for _, w := range byTenant[t.ID] {
			s.Lost = append(s.Lost, lostStatus{From: jsonTime{Time: w.From}, To: jsonTime{Time: w.To}, Reason: w.Reason, DetectedAt: jsonTime{Time: w.DetectedAt}})
		}
		s.recentLost, s.State = h.RecentLost, h.State
		who := fmt.Sprintf("tenant %s (%s)", t.Name, t.ID)
		if !t.Removed {
			if t.LastError != "" {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s failing since %s: %s", who, fmtTime(t.ErrorAt), t.LastError))
			}
			if s.Lagging {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s lagging: not read to the end for %s (poll.lag_alarm %s)", who, fmtDur(s.lag), lagAlarm))
			}
			if s.recentLost > 0 {
				w := byTenant[t.ID][len(byTenant[t.ID])-1]
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %d window(s) of events may be lost, found in the last 24 hours; the latest from %s to %s (UTC, the API's clock): %s",
					who, s.recentLost, w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339), w.Reason))
			}
		}
		rep.Tenants = append(rep.Tenants, s)
	}
	for _, c := range counts { // by receiver, then state
		if len(rep.Outbox) == 0 || rep.Outbox[len(rep.Outbox)-1].Receiver != c.Channel {
			rep.Outbox = append(rep.Outbox, receiverStatus{Receiver: c.Channel})
		}
		r := &rep.Outbox[len(rep.Outbox)-1]
		switch c.State {
		case store.StatePending:
			r.Pending, r.Retrying, r.FirstDue = c.Rows, c.Failed, jsonTime{Time: c.FirstDue}
			if r.LastError == "" {
				r.LastError = c.LastError
			}
		case store.StateSent:
			r.Sent = c.Rows
		case store.StateDead:
			r.Dead, r.LastError = c.Rows, c.LastError // the dead rows' reason comes first
		}
	}
	for _, r := range rep.Outbox {
		if r.Dead > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("receiver %s: %d notification(s) dead: %s; send them again with: %s",
				r.Receiver, r.Dead, r.LastError, retry(r.Receiver)))
		}
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// scrub hides the configuration's secrets in every text the store gave.
func (r *statusReport) scrub(hide []string) {
	for i := range r.Problems {
		r.Problems[i] = secret.Scrub(r.Problems[i], hide...)
	}
	for i := range r.Tenants {
		t := &r.Tenants[i]
		t.LastError = secret.Scrub(t.LastError, hide...)
		for j := range t.Lost {
			t.Lost[j].Reason = secret.Scrub(t.Lost[j].Reason, hide...)
		}
	}
	for i := range r.Outbox {
		r.Outbox[i].LastError = secret.Scrub(r.Outbox[i].LastError, hide...)
	}
}

// writeTable prints the tenants and the outbox, every store text cleaned
// of control characters (cell).
func (r *statusReport) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tID\tSTATE\tLAST READ (UTC)\tLAG\tCURSOR AGE (OF 24h)\tLOST WINDOWS\tLAST ERROR")
	for _, t := range r.Tenants {
		lag, cur, lost := "-", "-", "-"
		if t.Lag != nil {
			lag = fmtDur(t.lag)
		}
		if t.hasCursor {
			if left := central.Retention - t.cursorAge; left > 0 {
				cur = fmt.Sprintf("%s (%s left)", fmtDur(t.cursorAge), fmtDur(left))
			} else {
				cur = fmt.Sprintf("%s (past 24h)", fmtDur(t.cursorAge))
			}
		}
		if n := len(t.Lost); n > 0 {
			l := t.Lost[n-1]
			lost = fmt.Sprintf("%d, latest %s to %s", n, fmtTime(l.From.Time), fmtTime(l.To.Time))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(t.Name, 32), cell(t.ID, 40), t.State, fmtTime(t.LastRead.Time),
			lag, cur, lost, cell(t.LastError, 120))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RECEIVER\tPENDING\tRETRYING\tSENT\tDEAD\tLAST ERROR")
	for _, o := range r.Outbox {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", cell(o.Receiver, 32), o.Pending, o.Retrying, o.Sent, o.Dead, cell(o.LastError, 120))
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.DateTime)
}

// fmtDur shows d to the minute (to the second under a minute).
func fmtDur(d time.Duration) string {
	if d < time.Minute && d > -time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
