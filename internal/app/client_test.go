package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/secret"
)

// NewClient builds the client of the sophos section: over TLS with
// sophos.ca_file, and a *ConfigError for what the configuration got wrong.
func TestNewClient(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Tenants, cfg.EventsPerTenant, cfg.Rate = 1, 1, 0
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{TLS: certs.ServerTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := certs.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	cred, _ := s.Credential("partner")
	c := config.Default()
	c.Sophos.ClientID, c.Sophos.ClientSecret = cred.ClientID, secret.Secret(cred.ClientSecret)
	c.Sophos.AuthURL, c.Sophos.APIURL, c.Sophos.CAFile = s.TokenURL(), srv.GlobalURL, ca

	client, err := NewClient(c, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	who, err := client.Whoami(context.Background())
	if err != nil || who.IDType != central.IDTypePartner || who.ID != cred.ID {
		t.Fatalf("Whoami over TLS with sophos.ca_file: %+v, %v", who, err)
	}

	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("no certificate here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*config.Config){
		"CA file without a certificate": func(c *config.Config) { c.Sophos.CAFile = bad },
		"CA file missing":               func(c *config.Config) { c.Sophos.CAFile = filepath.Join(dir, "none.pem") },
		"plain http to a remote host":   func(c *config.Config) { c.Sophos.APIURL = "http://api.example.com" },
		"no client id":                  func(c *config.Config) { c.Sophos.ClientID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cc := c
			mod(&cc)
			_, err := NewClient(cc, nil)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("NewClient: %v, want a *ConfigError", err)
			}
			if strings.Contains(name, "CA") && !strings.HasPrefix(err.Error(), "sophos.ca_file: ") {
				t.Errorf("%v: want it to name sophos.ca_file", err)
			}
		})
	}

	// tune adjusts the options last.
	tuned := false
	if _, err := NewClient(c, nil, func(o *central.Options) { tuned = o.RootCAs != nil && o.AuthURL == s.TokenURL() }); err != nil || !tuned {
		t.Errorf("tune was not given the options (err %v)", err)
	}
}

// New tells configuration errors (exit 2) from run-time failures (exit 1).
func TestNewConfigErrorOrRuntimeFailure(t *testing.T) {
	base := config.Default()
	base.Sophos.ClientID, base.Sophos.ClientSecret = "id", secret.Secret("secret-value")
	dir := t.TempDir()

	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("no certificate here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := base
	c.Sophos.CAFile = bad
	c.Store.DB = filepath.Join(dir, "ok.db")
	if _, err := New(context.Background(), c, Deps{}); !IsConfigError(err) {
		t.Errorf("New with a CA file holding no certificate: %v, want a *ConfigError", err)
	}

	c = base
	c.Store.DB = filepath.Join(dir, "no-such-dir", "puawatch.db")
	_, err := New(context.Background(), c, Deps{})
	if err == nil || IsConfigError(err) || !strings.Contains(err.Error(), c.Store.DB) {
		t.Errorf("New with a store in a missing directory: %v, want a run-time failure naming the store", err)
	}

	c = base
	c.Store.DB = filepath.Join(dir, "ok.db")
	c.JSONL.Path = filepath.Join(dir, "no-such-dir", "out.jsonl")
	if _, err := New(context.Background(), c, Deps{}); err == nil || IsConfigError(err) {
		t.Errorf("New with a JSONL file in a missing directory: %v, want a run-time failure", err)
	}
}
