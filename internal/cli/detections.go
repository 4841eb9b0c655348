package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/puawatch/puawatch/internal/csvsafe"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/spf13/cobra"
)

func newDetectionsCmd(e *env) *cobra.Command {
	var cf configFlags
	var format, tenant, db string
	var since time.Duration
	var limit int
	var unacked bool
	c := &cobra.Command{
		Use:   "detections",
		Short: "List stored detections (table, JSON or CSV)",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "table", "json", "csv":
			default:
				return usagef("--format must be table, json or csv, not %q", format)
			}
			st, err := openStore(cmd, e, &cf, db)
			if err != nil {
				return err
			}
			defer st.Close()
			f := store.DetectionFilter{TenantID: tenant, Limit: limit}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			var ds []store.Detection
			if unacked {
				ds, err = unackedDetections(cmd.Context(), st, f)
			} else {
				ds, err = st.Detections(cmd.Context(), f)
			}
			if err != nil {
				return err
			}
			return writeDetections(e, format, ds)
		},
	}
	cf.register(c)
	c.Flags().StringVar(&format, "format", "table", "output format: table, json (one object per line) or csv")
	c.Flags().StringVar(&tenant, "tenant", "", "only this tenant id")
	c.Flags().DurationVar(&since, "since", 0, "only detections created within this duration (e.g. 24h)")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many (newest first; 0: all)")
	c.Flags().BoolVar(&unacked, "unacked", false, "only detections nobody acknowledged yet (see puawatch ack)")
	c.Flags().StringVar(&db, "db", "", "store to read (default: PUAWATCH_DB, else store.db of the configuration, else puawatch.db in the state directory)")
	return c
}

// unackedDetections lists the detections f selects that nobody
// acknowledged, in the order of store.Store.Detections (newest first,
// ties by higher event id, a zero CreatedAt last).
func unackedDetections(ctx context.Context, st store.Dashboard, f store.DetectionFilter) ([]store.Detection, error) {
	no := false
	q := store.DetectionQuery{Acked: &no, Since: f.Since, Sort: "created_at", Desc: true}
	if f.TenantID == "" {
		q.Limit = f.Limit
	} else {
		// The query matches a tenant's id or name as a substring; --tenant
		// names one tenant id exactly.
		q.Tenant = f.TenantID
	}
	p, err := st.QueryDetections(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []store.Detection
	for _, r := range p.Rows {
		if f.TenantID != "" && r.TenantID != f.TenantID {
			continue
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
		out = append(out, r.Detection)
	}
	return out, nil
}

// detectionRow is a detection as the listing shows it.
type detectionRow struct {
	ID           string             `json:"id"`
	Kind         string             `json:"kind"`
	Type         string             `json:"type"`
	TenantID     string             `json:"tenant_id"`
	TenantName   string             `json:"tenant_name"`
	CreatedAt    detectionjson.Time `json:"created_at"`
	When         detectionjson.Time `json:"when"`
	Location     string             `json:"location"`
	User         string             `json:"source"`
	Threat       string             `json:"threat"`
	Severity     string             `json:"severity"`
	Path         string             `json:"path"`
	EndpointType string             `json:"endpoint_type"`
	Name         string             `json:"name"`
}

func rowOf(d store.Detection) detectionRow {
	return detectionRow{ID: d.EventID, Kind: d.Kind, Type: d.Type, TenantID: d.TenantID, TenantName: d.TenantName,
		CreatedAt: detectionjson.Time{Time: d.CreatedAt}, When: detectionjson.Time{Time: d.When}, Location: d.Location, User: d.User, Threat: d.Threat,
		Severity: d.Severity, Path: d.Path, EndpointType: d.EndpointType, Name: d.Name}
}

// cell makes an endpoint-supplied value safe for one terminal cell: no
// control characters, no tabs, bounded length.
func cell(s string, n int) string {
	s = plaintext.Clean(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

func writeDetections(e *env, format string, ds []store.Detection) error {
	switch format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		for _, d := range ds {
			if err := enc.Encode(rowOf(d)); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		w := csv.NewWriter(e.stdout)
		_ = w.Write([]string{"id", "kind", "type", "tenant_id", "tenant_name", "created_at", "when", "location", "source", "threat", "severity", "path", "endpoint_type", "name"})
		for _, d := range ds {
			r := rowOf(d)
			// Every text cell is the endpoint's or the API's: each one is
			// kept from being read as a formula.
			_ = w.Write([]string{csvsafe.Cell(r.ID), csvsafe.Cell(r.Kind), csvsafe.Cell(r.Type), csvsafe.Cell(r.TenantID), csvsafe.Cell(r.TenantName),
				csvTime(d.CreatedAt), csvTime(d.When), csvsafe.Cell(r.Location), csvsafe.Cell(r.User), csvsafe.Cell(r.Threat),
				csvsafe.Cell(r.Severity), csvsafe.Cell(r.Path), csvsafe.Cell(r.EndpointType), csvsafe.Cell(r.Name)})
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED (UTC)\tTENANT\tHOST\tUSER\tTHREAT\tSEVERITY\tTYPE\tEVENT ID")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.CreatedAt.UTC().Format("2006-01-02 15:04:05"), cell(d.TenantName, 30),
			cell(d.Location, 24), cell(d.User, 24), cell(d.Threat, 30), d.Severity, cell(strings.TrimPrefix(d.Type, "Event::Endpoint::"), 40), cell(d.EventID, 40))
	}
	return tw.Flush()
}

// csvTime is a time in the CSV export: render.TimeLayout, empty when
// not known.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return render.Timestamp(t)
}
