package cli

import (
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

func TestDetectionsFormats(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	if r := runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds); r.code != ExitOK {
		t.Fatalf("run --once: want exit 0\n%s", r)
	}
	list := func(t *testing.T, format string) cmdResult {
		t.Helper()
		r := runCLI(t, w.env(), "", "detections", "--format", format, "--credentials", w.creds)
		if r.code != ExitOK {
			t.Fatalf("detections --format %s: want exit 0\n%s", format, r)
		}
		return r
	}

	t.Run("table", func(t *testing.T) {
		out := list(t, "table").stdout
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 1+len(want) {
			t.Fatalf("%d lines, want a header and one row per detection (%d):\n%s", len(lines), 1+len(want), out)
		}
		for _, col := range []string{"CREATED", "TENANT", "HOST", "THREAT", "SEVERITY", "TYPE", "EVENT ID"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header %q lacks %s", lines[0], col)
			}
		}
		seen := map[string]bool{}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			id := f[len(f)-1]
			if _, ok := want[id]; !ok || seen[id] {
				t.Errorf("row does not end with a new detection id: %q", l)
			}
			seen[id] = true
		}
		// Endpoint-supplied text must not reach the terminal as control
		// characters: no CR or LF splitting a row, no ESC or CSI sequence.
		for i, r := range out {
			if r != '\n' && unicode.IsControl(r) {
				t.Errorf("the table holds the control character %U at byte %d (from the host name %q); cell() in "+
					"internal/cli/detections.go replaces only r < 0x20 and 0x7f, not the C1 controls U+0080..U+009F "+
					"(U+009B is CSI, which xterm obeys like ESC [); use unicode.IsControl(r)",
					r, i, hostileHost)
				break
			}
		}
		if !strings.Contains(out, "EVIL  X-INJ") {
			t.Errorf("the hostile host name is not shown with its control characters replaced:\n%s", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		objs := jsonLines(t, "detections --format json", list(t, "json").stdout)
		if got, exp := ids(objs), sortedKeys(want); strings.Join(got, ",") != strings.Join(exp, ",") {
			t.Errorf("ids\n got %v\nwant %v (the simulator's detections)", got, exp)
		}
		for _, o := range objs {
			id, _ := o["id"].(string)
			for _, k := range []string{"created_at", "when"} {
				if v, _ := o[k].(string); !machineTime.MatchString(v) {
					t.Errorf("detection %s: %s %q, want UTC with three fraction digits (sorts as text)", id, k, o[k])
				}
			}
			if o["tenant_id"] != want[id] {
				t.Errorf("detection %s: tenant_id %v, want %s", id, o["tenant_id"], want[id])
			}
			switch id {
			case w.injected["host"]:
				if o["location"] != hostileHost {
					t.Errorf("detection %s: location %q, want the host name exactly as sent: %q", id, o["location"], hostileHost)
				}
			case w.injected["formula"]:
				if o["threat"] != formulaThreat {
					t.Errorf("detection %s: threat %q, want %q unchanged (JSON is not a spreadsheet)", id, o["threat"], formulaThreat)
				}
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		rd := csv.NewReader(strings.NewReader(list(t, "csv").stdout))
		recs, err := rd.ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not parse: %v", err)
		}
		if len(recs) != 1+len(want) {
			t.Fatalf("%d records, want a header and one per detection (%d)", len(recs), 1+len(want))
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		for _, h := range []string{"id", "tenant_id", "location", "threat", "severity"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("CSV header %v lacks %q", recs[0], h)
			}
		}
		got := map[string]bool{}
		for _, rec := range recs[1:] {
			id := rec[col["id"]]
			got[id] = true
			for _, h := range []string{"created_at", "when"} {
				if v := rec[col[h]]; !machineTime.MatchString(v) {
					t.Errorf("CSV %s: %s %q, want UTC with three fraction digits (sorts as text)", id, h, v)
				}
			}
			if rec[col["tenant_id"]] != want[id] {
				t.Errorf("CSV %s: tenant_id %q, want %q", id, rec[col["tenant_id"]], want[id])
			}
			for _, h := range []string{"tenant_name", "location", "source", "threat", "path"} {
				if i, ok := col[h]; ok && rec[i] != "" && strings.ContainsRune("=+-@", rune(rec[i][0])) {
					t.Errorf("CSV %s: %s %q starts with a formula character", id, h, rec[i])
				}
			}
			switch id {
			case w.injected["formula"]:
				if th := rec[col["threat"]]; th != "'"+formulaThreat {
					t.Errorf("CSV %s: threat %q, want it prefixed with ': %q", id, th, "'"+formulaThreat)
				}
			case w.injected["host"]:
				// encoding/csv's reader drops the \r of a \r\n inside a quoted field.
				if loc, exp := rec[col["location"]], strings.ReplaceAll(hostileHost, "\r\n", "\n"); loc != exp {
					t.Errorf("CSV %s: location %q, want %q (quoted, not altered)", id, loc, exp)
				}
			}
		}
		if fmt.Sprint(sortedKeys(want)) != fmt.Sprint(sortedKeysBool(got)) {
			t.Errorf("CSV ids\n got %v\nwant %v", sortedKeysBool(got), sortedKeys(want))
		}
	})

	t.Run("xml", func(t *testing.T) {
		r := runCLI(t, w.env(), "", "detections", "--format", "xml", "--credentials", w.creds)
		if r.code != ExitUsage {
			t.Fatalf("detections --format xml: want exit 2\n%s", r)
		}
		if !strings.Contains(r.stderr, "--format") || !strings.Contains(r.stderr, "xml") {
			t.Errorf("stderr does not name --format and xml:\n%s", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("detections --format xml printed:\n%s", r.stdout)
		}
	})
}

// machineTime is how an export writes a time: render.TimeLayout.
var machineTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func sortedKeysBool(m map[string]bool) []string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = ""
	}
	return sortedKeys(s)
}
