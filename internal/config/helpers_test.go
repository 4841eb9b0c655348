package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // email.time_zone tests must not depend on the host's zoneinfo
)

// testHome is the HOME of every fake environment unless it says
// otherwise: the default store is under it (validConfig).
const testHome = "/home/puawatch-test"

// env is a fake environment for LoadOptions.Env, with HOME testHome
// unless kv sets HOME (to "" for none).
func env(kv ...string) func(string) string {
	m := map[string]string{"HOME": testHome}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// noEnv is an environment of HOME only, so the host's PUAWATCH_* never
// leak in.
var noEnv = env()

// writeFile writes content to name in dir with mode and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile is subject to the umask
		t.Fatal(err)
	}
	return p
}

// credsYAML is the smallest file that passes Validate.
const credsYAML = "sophos:\n  client_id: cid\n  client_secret_file: %s\n"

// validConfig is Default with credentials and the default store of the
// fake environment: what Load gives for them, and it passes Validate.
func validConfig() Config {
	c := Default()
	c.Sophos.ClientID = "cid"
	c.Sophos.ClientSecret = "csecret"
	c.Store.StateDir = testHome + "/.local/state/puawatch"
	c.Store.DB = c.Store.StateDir + "/" + DefaultDBName
	return c
}

// wantErr fails unless err's text holds every one of wants.
func wantErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

// countErrs is how many errors errors.Join put together.
func countErrs(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return len(j.Unwrap())
	}
	return 1
}

// writeCA writes a self-signed CA certificate (PEM) to dir and returns its
// path: ca_file keys are loaded, not only checked for existence.
func writeCA(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "puawatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
}
