package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCredentialsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   StoredCredentials
		want StoredCredentials
	}{
		{"defaults dropped", StoredCredentials{ClientID: "id-1", ClientSecret: "sec-1", AuthURL: DefaultAuthURL, APIURL: DefaultAPIURL},
			StoredCredentials{ClientID: "id-1", ClientSecret: "sec-1"}},
		{"custom URLs kept", StoredCredentials{ClientID: "id-2", ClientSecret: "sec: \"quoted\" #2", AuthURL: "http://127.0.0.1:8443/token", APIURL: "http://127.0.0.1:8443"},
			StoredCredentials{ClientID: "id-2", ClientSecret: "sec: \"quoted\" #2", AuthURL: "http://127.0.0.1:8443/token", APIURL: "http://127.0.0.1:8443"}},
		{"numeric-looking secret", StoredCredentials{ClientID: "007", ClientSecret: "0042"}, StoredCredentials{ClientID: "007", ClientSecret: "0042"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "puawatch", "credentials.yaml")
			if err := SaveCredentials(p, tt.in); err != nil {
				t.Fatal(err)
			}
			got, err := LoadCredentials(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v (secrets %q, %q)", got, tt.want, got.ClientSecret.Reveal(), tt.want.ClientSecret.Reveal())
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), "auth_url") != (tt.want.AuthURL != "") {
				t.Errorf("auth_url written when default:\n%s", data)
			}
			// No temporary files left behind.
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only credentials.yaml", len(entries))
			}
		})
	}
}

func TestSaveCredentialsRefusesIncomplete(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	for _, c := range []StoredCredentials{{ClientID: "id"}, {ClientSecret: "s"}, {ClientID: "id", ClientSecret: "a\nb"}} {
		if err := SaveCredentials(p, c); err == nil {
			t.Errorf("saved %#v", c)
		}
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file written: %v", err)
	}
}

func TestLoadCredentialsErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadCredentials(filepath.Join(dir, "none.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	p := writeFile(t, dir, "partial.yaml", "client_id: x\n", 0o600)
	_, err = LoadCredentials(p)
	wantErr(t, err, "lacks client_id or client_secret", "puawatch login")
	p = writeFile(t, dir, "typo.yaml", "client_id: x\nclient_secrett: y\n", 0o600)
	_, err = LoadCredentials(p)
	wantErr(t, err, `typo.yaml:2: unknown key "client_secrett" (did you mean "client_secret"?)`)
}

func TestCredentialsPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	p, err := CredentialsPath()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "puawatch", "credentials.yaml")
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9": // no XDG_CONFIG_HOME there
		want = filepath.Join("puawatch", "credentials.yaml")
	}
	if !strings.HasSuffix(p, want) {
		t.Errorf("CredentialsPath = %q, want %q", p, want)
	}
}
