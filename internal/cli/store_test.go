package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultStoreInStateDir: without PUAWATCH_DB or store.db the store is
// in the state directory (made with mode 0700), whatever the working
// directory, and a run that creates a new store says so, so that a run
// against a fresh store (which sends every detection of the last day
// again) is never silent.
func TestDefaultStoreInStateDir(t *testing.T) {
	w := newWorld(t, 2)
	home := t.TempDir()
	env := with(w.env(), "PUAWATCH_DB", "", "HOME", home)
	dir := filepath.Join(home, ".local", "state", "puawatch")
	db := filepath.Join(dir, "puawatch.db")
	created := "puawatch: created a new store at " + db + "\n"

	r := runCLI(t, env, "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitOK {
		t.Fatalf("first run:\n%s", r)
	}
	if strings.Count(r.stderr, "created a new store") != 1 || !strings.Contains(r.stderr, created) {
		t.Errorf("first run: stderr does not say, once, %q\n%s", created, r)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state directory %s: %v (mode %v), want mode 0700", dir, err, fi.Mode())
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("no store at %s: %v", db, err)
	}
	sent := len(w.smtp.Messages())
	if sent == 0 {
		t.Fatal("the first run sent nothing")
	}

	// Another run, as from another directory: the same store, nothing new.
	r = runCLI(t, env, "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitOK || strings.Contains(r.stderr, "created a new store") {
		t.Errorf("second run: want exit 0 and no new store\n%s", r)
	}
	if n := len(w.smtp.Messages()); n != sent {
		t.Errorf("second run sent %d mails again", n-sent)
	}
	r = runCLI(t, env, "", "detections", "--credentials", w.creds)
	if r.code != ExitOK || strings.Contains(r.stderr, "created a new store") || !strings.Contains(r.stdout, w.injected["formula"]) {
		t.Errorf("detections of the default store:\n%s", r)
	}

	// --db and PUAWATCH_DB still name any other store; a new one is named.
	other := filepath.Join(t.TempDir(), "other.db")
	r = runCLI(t, env, "", "outbox", "list", "--db", other, "--credentials", w.creds)
	if r.code != ExitOK || !strings.Contains(r.stderr, "puawatch: created a new store at "+other+"\n") {
		t.Errorf("outbox list --db %s: want the new store named\n%s", other, r)
	}
	r = runCLI(t, with(env, "PUAWATCH_DB", other), "", "detections", "--credentials", w.creds)
	if r.code != ExitOK || strings.Contains(r.stderr, "created a new store") {
		t.Errorf("detections with PUAWATCH_DB=%s, which exists now:\n%s", other, r)
	}

	// No state directory at all: a configuration error naming the fix.
	r = runCLI(t, with(env, "HOME", ""), "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "store.db (PUAWATCH_DB)") || !strings.Contains(r.stderr, "HOME") {
		t.Errorf("run without a state directory:\n%s", r)
	}
}
