package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestListenOffLoopbackNeedsAuth: `config check` and `run` refuse a
// web.listen other machines reach without web.auth (exit 2, naming both
// keys and what to do), and accept it with a token.
func TestListenOffLoopbackNeedsAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	environ := map[string]string{
		"HOME": dir, "PUAWATCH_CLIENT_ID": "cid", "PUAWATCH_CLIENT_SECRET": "csecret",
		"PUAWATCH_DB": filepath.Join(dir, "p.db"), "PUAWATCH_LISTEN": "0.0.0.0:9787",
	}
	noCreds := filepath.Join(dir, "none.yaml")
	for _, args := range [][]string{{"config", "check"}, {"run"}, {"run", "--once"}} {
		r := runCLI(t, environ, "", append(args, "--credentials", noCreds)...)
		if r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, ExitUsage, r)
		}
		for _, want := range []string{`web.listen (PUAWATCH_LISTEN): "0.0.0.0:9787" listens on every interface`, "web.auth is not set", "set web.auth.token (PUAWATCH_WEB_TOKEN)", "or listen on 127.0.0.1:9787"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, r.stderr)
			}
		}
	}
	const token = "a-web-token-0123456789"
	r := runCLI(t, with(environ, "PUAWATCH_WEB_TOKEN", token), "", "config", "check", "--credentials", noCreds)
	if r.code != ExitOK || !strings.Contains(r.stdout, "listen: 0.0.0.0:9787") || strings.Contains(r.stdout+r.stderr, token) {
		t.Errorf("with a token: exit %d\n%s", r.code, r)
	}
}
