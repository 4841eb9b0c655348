package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/secret"
)

// TestWebListenNeedsAuthOffLoopback: an address other machines reach is
// refused without web.auth, naming web.listen, web.auth and what to do;
// loopback addresses, "" and any address with auth pass.
func TestWebListenNeedsAuthOffLoopback(t *testing.T) {
	for _, addr := range []string{":9787", "0.0.0.0:9787", "[::]:9787", "192.168.1.10:9787", "dashboard.example.com:9787", "10.0.0.1:0"} {
		t.Run("refused "+addr, func(t *testing.T) {
			c := validConfig()
			c.Web.Listen = addr
			err := c.Validate()
			wantErr(t, err, "web.listen (PUAWATCH_LISTEN): "+`"`+addr+`"`, "web.auth is not set", "set web.auth.token (PUAWATCH_WEB_TOKEN) or web.auth.users", "or listen on 127.0.0.1:9787")
			if n := countErrs(err); n != 1 {
				t.Errorf("%d problems, want 1: %v", n, err)
			}
			c.Web.Auth.Token = "0123456789abcdef0123"
			if err := c.Validate(); err != nil {
				t.Errorf("with a token: %v", err)
			}
			c.Web.Auth = WebAuth{Users: map[string]secret.Secret{"alice": testHash}}
			if err := c.Validate(); err != nil {
				t.Errorf("with a user: %v", err)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:9787", "localhost:9787", "[::1]:9787", "127.0.0.2:0", ""} {
		c := validConfig()
		c.Web.Listen = addr
		if err := c.Validate(); err != nil {
			t.Errorf("%q: %v", addr, err)
		}
	}
}

func TestWebAuthValidation(t *testing.T) {
	c := validConfig()
	c.Web.Auth.Token = "short-secret"
	c.Web.Auth.Users = map[string]secret.Secret{"bob": "plain-password-oops", "": testHash, "a:b": testHash, "alice": testHash}
	err := c.Validate()
	wantErr(t, err, "web.auth.token (PUAWATCH_WEB_TOKEN): shorter than 16 characters: make one with `openssl rand -hex 32`",
		"web.auth.users.bob: not a bcrypt hash", "htpasswd -nbB bob PASSWORD",
		`web.auth.users: "" is not a user name`, `web.auth.users: "a:b" is not a user name`)
	if n := countErrs(err); n != 4 {
		t.Errorf("%d problems, want 4: %v", n, err)
	}
	for _, s := range []string{"short-secret", "plain-password-oops"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows the secret %q: %v", s, err)
		}
	}
	c.Web.Auth.Token = "0123456789abcdef 0123"
	wantErr(t, c.Validate(), "web.auth.token (PUAWATCH_WEB_TOKEN): holds white space")
}

// TestOldListenMoves: the top-level listen still loads, with a warning
// naming web.listen; PUAWATCH_LISTEN wins over it; set beside a
// different web.listen it is an error.
func TestOldListenMoves(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "secret", "s\n", 0o600)
	p := writeFile(t, dir, "old.yaml", "sophos:\n  client_id: cid\n  client_secret_file: "+sf+"\nlisten: 127.0.0.1:9100\n", 0o644)
	c, err := Load(LoadOptions{Path: p, Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.Listen != "127.0.0.1:9100" || c.Listen != "" {
		t.Errorf("web.listen %q, listen %q", c.Web.Listen, c.Listen)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "listen is deprecated: write web.listen instead") {
		t.Errorf("warnings %q", c.Warnings)
	}
	if strings.Contains(c.Redacted(), "\nlisten:") {
		t.Errorf("Redacted shows the old key:\n%s", c.Redacted())
	}
	c, err = Load(LoadOptions{Path: p, Env: env("PUAWATCH_LISTEN", "127.0.0.1:9200")})
	if err != nil || c.Web.Listen != "127.0.0.1:9200" {
		t.Errorf("PUAWATCH_LISTEN: %q %v", c.Web.Listen, err)
	}
	// "" in the old key turns the server off, as it did.
	p = writeFile(t, dir, "off.yaml", "sophos:\n  client_id: cid\n  client_secret_file: "+sf+"\nlisten: \"\"\n", 0o644)
	if c, err := Load(LoadOptions{Path: p, Env: noEnv}); err != nil || c.Web.Listen != "" {
		t.Errorf("listen \"\": %q %v", c.Web.Listen, err)
	}
	p = writeFile(t, dir, "both.yaml", "listen: 127.0.0.1:9100\nweb:\n  listen: 127.0.0.1:9300\n", 0o644)
	_, err = Load(LoadOptions{Path: p, Env: noEnv})
	wantErr(t, err, "listen and web.listen are both set, to different values: listen is deprecated, keep only web.listen")
}

// TestWebTokenSources: the token comes from the file (which must then be
// private), PUAWATCH_WEB_TOKEN, or the stored credentials, in that
// order of precedence reversed; it is redacted in every rendering, and
// so are the users' hashes.
func TestWebTokenSources(t *testing.T) {
	const (
		fileToken   = "file-token-AAAA-0123456789"
		envToken    = "env-token-BBBB-0123456789"
		storedToken = "stored-token-CCCC-0123456789"
	)
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.yaml")
	if err := SaveCredentials(creds, StoredCredentials{ClientID: "cid", ClientSecret: "csecret", WebToken: storedToken}); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadCredentials(creds)
	if err != nil || sc.WebToken.Reveal() != storedToken {
		t.Fatalf("stored web token %q %v", sc.WebToken.Reveal(), err)
	}

	c, err := Load(LoadOptions{Env: noEnv, CredentialsPath: creds})
	if err != nil || c.Web.Auth.Token.Reveal() != storedToken {
		t.Errorf("stored: %q %v", c.Web.Auth.Token.Reveal(), err)
	}
	// With the client from the environment, the stored token still counts.
	c, err = Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "x", "PUAWATCH_CLIENT_SECRET", "y"), CredentialsPath: creds})
	if err != nil || c.Web.Auth.Token.Reveal() != storedToken || c.Sophos.ClientID != "x" {
		t.Errorf("stored token beside an environment client: %q %q %v", c.Web.Auth.Token.Reveal(), c.Sophos.ClientID, err)
	}
	c, err = Load(LoadOptions{Env: env("PUAWATCH_WEB_TOKEN", envToken), CredentialsPath: creds})
	if err != nil || c.Web.Auth.Token.Reveal() != envToken {
		t.Errorf("environment: %q %v", c.Web.Auth.Token.Reveal(), err)
	}

	yml := "web:\n  listen: 0.0.0.0:9787\n  auth:\n    token: " + fileToken + "\n    users:\n      alice: \"" + testHash + "\"\n"
	open := writeFile(t, dir, "open.yaml", yml, 0o644)
	_, err = Load(LoadOptions{Path: open, Env: noEnv, CredentialsPath: creds})
	wantErr(t, err, "holds a secret (web.auth.token)", "chmod 600")
	private := writeFile(t, dir, "private.yaml", yml, 0o600)
	c, err = Load(LoadOptions{Path: private, Env: noEnv, CredentialsPath: creds})
	if err != nil || c.Web.Auth.Token.Reveal() != fileToken {
		t.Fatalf("file: %q %v", c.Web.Auth.Token.Reveal(), err)
	}
	out := c.Redacted()
	for _, s := range []string{fileToken, testHash, "$2a$"} {
		if strings.Contains(out, s) {
			t.Errorf("Redacted shows %q:\n%s", s, out)
		}
	}
	for _, want := range []string{"listen: 0.0.0.0:9787", `token: "[redacted]"`, `alice: "[redacted]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, out)
		}
	}
	if h := c.Web.Auth.UserHashes(); h["alice"] != testHash {
		t.Errorf("UserHashes %v", h)
	}
}
