package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// rig is a simulator and an SMTP capture, with the environment that points
// puawatch at both.
type rig struct {
	sim   *sim.Simulator
	srv   *sim.Server
	smtp  *smtpcapture.Server
	env   map[string]string
	db    string
	dir   string
	match *match.Matcher // what the watcher reports: the rig's configuration's matcher
}

func newRig(t *testing.T, cfg sim.Config) *rig {
	t.Helper()
	return newRigWith(t, cfg, smtpcapture.Options{})
}

// newRigWith is newRig with an SMTP capture made with o (a hook on every
// message, failures).
func newRigWith(t *testing.T, cfg sim.Config, o smtpcapture.Options) *rig {
	t.Helper()
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	capture, err := smtpcapture.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = capture.Close() })
	dir := t.TempDir()
	r := &rig{sim: s, srv: srv, smtp: capture, dir: dir, db: filepath.Join(dir, "puawatch.db")}
	partner, _ := s.Credential("partner")
	r.env = map[string]string{
		"PUAWATCH_CLIENT_ID":     partner.ClientID,
		"PUAWATCH_CLIENT_SECRET": partner.ClientSecret,
		"PUAWATCH_AUTH_URL":      s.TokenURL(),
		"PUAWATCH_API_URL":       srv.GlobalURL,
		"PUAWATCH_DB":            r.db,
		"PUAWATCH_SMTP_URL":      fmt.Sprintf("smtp://%s?starttls=none", capture.Addr()),
		"PUAWATCH_MAIL_FROM":     "puawatch@test.invalid",
		"PUAWATCH_MAIL_TO":       "soc@test.invalid,helpdesk@test.invalid",
		// Daemons run side by side: each serves on a free port, not on
		// the default 127.0.0.1:9787.
		"PUAWATCH_LISTEN": "127.0.0.1:0",
	}
	r.match = matcher(t, r.config(t))
	return r
}

// matcher is the matcher the watcher builds from c (package match
// decides what is a detection; the tests do not restate its rule).
func matcher(t *testing.T, c config.Config) *match.Matcher {
	t.Helper()
	m, err := c.Match.Matcher()
	if err != nil {
		t.Fatalf("matcher: %v", err)
	}
	return m
}

// config loads the configuration from the rig's environment.
func (r *rig) config(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(config.LoadOptions{Env: func(k string) string { return r.env[k] }})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// expected is the set of PUA detection event ids (those the rig's matcher
// reports) the simulator holds for the tenants not excluded.
func (r *rig) expected(t *testing.T, skip map[string]bool) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, ti := range r.sim.Tenants() {
		if skip[ti.ID] {
			continue
		}
		evs, err := r.sim.Events(ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if _, ok := r.match.Match(central.Event{ID: e.ID, Type: e.Type, Group: e.Group, Severity: e.Severity}); ok {
				want[e.ID] = ti.ID
			}
		}
	}
	return want
}

var eventIDLine = regexp.MustCompile(`(?m)^Event id:\s+(\S+)`)

// delivered counts, per event id, the mails that carried it, and the
// distinct Message-IDs per event id.
func (r *rig) delivered(t *testing.T) (count map[string]int, msgIDs map[string]map[string]bool) {
	t.Helper()
	count, msgIDs = map[string]int{}, map[string]map[string]bool{}
	for _, m := range r.smtp.Messages() {
		ids := eventIDLine.FindAllStringSubmatch(m.Text, -1)
		if len(ids) == 0 {
			t.Errorf("mail %q carries no event id:\n%s", m.Subject, m.Text)
		}
		for _, id := range ids {
			count[id[1]]++
			if msgIDs[id[1]] == nil {
				msgIDs[id[1]] = map[string]bool{}
			}
			msgIDs[id[1]][m.MessageID] = true
		}
	}
	return count, msgIDs
}

func diff(want map[string]string, got map[string]int) (missing, extra []string) {
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

// pending lists outbox rows not yet sent, from the rig's store.
func (r *rig) pending(t *testing.T) []store.OutboxItem {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), r.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := st.Outbox(context.Background(), store.OutboxFilter{States: []string{store.StatePending, store.StateDead}})
	if err != nil {
		t.Fatal(err)
	}
	return items
}
