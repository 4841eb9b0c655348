package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefaultStoreInStateDir: without store.db the store is a SQLite file
// in the state directory, never in the working directory, so a run from
// another directory finds the same store.
func TestDefaultStoreInStateDir(t *testing.T) {
	creds := []string{"PUAWATCH_CLIENT_ID", "cid", "PUAWATCH_CLIENT_SECRET", "csecret"}
	for _, tc := range []struct {
		name string
		env  []string
		want string // store.db; "" for an error
	}{
		{"systemd StateDirectory", []string{"STATE_DIRECTORY", "/var/lib/puawatch", "HOME", "/home/u"}, "/var/lib/puawatch/puawatch.db"},
		{"systemd, several directories: the first", []string{"STATE_DIRECTORY", "/var/lib/puawatch:/var/lib/other", "HOME", ""}, "/var/lib/puawatch/puawatch.db"},
		{"XDG_STATE_HOME", []string{"XDG_STATE_HOME", "/home/u/state", "HOME", "/home/u"}, "/home/u/state/puawatch/puawatch.db"},
		{"HOME", []string{"HOME", "/home/u"}, "/home/u/.local/state/puawatch/puawatch.db"},
		{"a relative XDG_STATE_HOME is ignored", []string{"XDG_STATE_HOME", "state", "HOME", "/home/u"}, "/home/u/.local/state/puawatch/puawatch.db"},
		{"a relative STATE_DIRECTORY is ignored", []string{"STATE_DIRECTORY", "puawatch", "HOME", "/home/u"}, "/home/u/.local/state/puawatch/puawatch.db"},
		{"PUAWATCH_DB wins", []string{"PUAWATCH_DB", "./here.db", "STATE_DIRECTORY", "/var/lib/puawatch"}, "./here.db"},
		{"PUAWATCH_DB needs no state directory", []string{"PUAWATCH_DB", "postgres://db.example/pw", "HOME", ""}, "postgres://db.example/pw"},
		{"no state directory", []string{"HOME", ""}, ""},
		{"only relative ones", []string{"HOME", "home", "XDG_STATE_HOME", "state", "STATE_DIRECTORY", "x:/var/lib/y"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(LoadOptions{Env: env(append(creds, tc.env...)...)})
			if tc.want == "" {
				wantErr(t, err, "store.db", "PUAWATCH_DB", "STATE_DIRECTORY", "XDG_STATE_HOME", "HOME")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.DB != tc.want {
				t.Errorf("store.db = %q, want %q", c.Store.DB, tc.want)
			}
		})
	}
	// store.db in the file wins too.
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "store:\n  db: "+filepath.Join(dir, "x.db")+"\n", 0o644)
	c, err := Load(LoadOptions{Path: p, Env: env(append(creds, "STATE_DIRECTORY", "/var/lib/puawatch")...)})
	if err != nil || c.Store.DB != filepath.Join(dir, "x.db") || c.Store.StateDir != "" {
		t.Errorf("store.db from the file: %q (state dir %q), %v", c.Store.DB, c.Store.StateDir, err)
	}
}

// TestMakeStateDir: the state directory is made, private, when the
// default store is about to be opened; a store.db that was set makes
// nothing.
func TestMakeStateDir(t *testing.T) {
	home := t.TempDir()
	c, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "cid", "PUAWATCH_CLIENT_SECRET", "csecret", "HOME", home)})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".local", "state", "puawatch")
	if c.Store.StateDir != dir {
		t.Fatalf("state dir %q, want %q", c.Store.StateDir, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Load made the state directory (%v): only opening the store should", err)
	}
	if err := c.Store.MakeStateDir(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(home, ".local", "state")} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want a directory with mode 0700", d, err, fi.Mode())
		}
	}
	if err := c.Store.MakeStateDir(); err != nil {
		t.Errorf("again: %v", err)
	}
	if err := (Store{DB: filepath.Join(home, "no-such", "x.db")}).MakeStateDir(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(home, "no-such")); !os.IsNotExist(err) {
		t.Errorf("a store.db that was set made its directory: %v", err)
	}
}
