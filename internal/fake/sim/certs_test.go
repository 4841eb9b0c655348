package sim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// testExtraHost is a host name given to NewCerts besides the defaults.
const testExtraHost = "sim.puawatch.test"

// testExtraIP is an IP address given to NewCerts besides the defaults.
const testExtraIP = "10.11.12.13"

func newTestCerts(t *testing.T, now time.Time) *Certs {
	t.Helper()
	c, err := NewCerts([]string{testExtraHost, testExtraIP, "", "localhost"}, now, 24*time.Hour)
	if err != nil {
		t.Fatalf("NewCerts: %v", err)
	}
	return c
}

// parseCA decodes CAPEM and checks it is the same certificate as c.CA.
func parseCA(t *testing.T, c *Certs) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(c.CAPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CAPEM is not a PEM CERTIFICATE block: %q", c.CAPEM)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("CAPEM has trailing data: %q", rest)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse CA: %v", err)
	}
	if c.CA == nil || !bytes.Equal(c.CA.Raw, ca.Raw) {
		t.Fatal("Certs.CA differs from the certificate in CAPEM")
	}
	return ca
}

// parseLeaf parses the one certificate of the leaf chain and checks the key.
func parseLeaf(t *testing.T, c *Certs) *x509.Certificate {
	t.Helper()
	if n := len(c.Leaf.Certificate); n != 1 {
		t.Fatalf("leaf chain has %d certificates, want 1 (leaf only)", n)
	}
	leaf, err := x509.ParseCertificate(c.Leaf.Certificate[0])
	if err != nil {
		t.Fatalf("parse leaf: %v", err)
	}
	key, ok := c.Leaf.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("leaf private key is %T, want *ecdsa.PrivateKey", c.Leaf.PrivateKey)
	}
	if key.Curve != elliptic.P256() {
		t.Errorf("leaf key curve = %v, want P-256", key.Curve.Params().Name)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("leaf private key does not match the certificate's public key")
	}
	return leaf
}

// findExt returns the raw extension with the given OID, failing if it is
// missing or repeated.
func findExt(t *testing.T, cert *x509.Certificate, oid asn1.ObjectIdentifier) pkix.Extension {
	t.Helper()
	var found []pkix.Extension
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: extension %v present %d times, want once", cert.Subject.CommonName, oid, len(found))
	}
	return found[0]
}

// rawBasicConstraints decodes the cA flag of a basicConstraints extension
// value.
func rawBasicConstraints(t *testing.T, der []byte) (isCA bool) {
	t.Helper()
	var bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	rest, err := asn1.Unmarshal(der, &bc)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode basicConstraints: %v (rest %d bytes)", err, len(rest))
	}
	return bc.IsCA
}

// rawKeyUsage decodes a keyUsage extension value into x509.KeyUsage bits.
func rawKeyUsage(t *testing.T, der []byte) x509.KeyUsage {
	t.Helper()
	var bits asn1.BitString
	rest, err := asn1.Unmarshal(der, &bits)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode keyUsage: %v (rest %d bytes)", err, len(rest))
	}
	var ku x509.KeyUsage
	for i := 0; i < 9; i++ {
		if bits.At(i) != 0 {
			ku |= 1 << uint(i)
		}
	}
	return ku
}

func TestNewCertsCA(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	c := newTestCerts(t, now)
	ca := parseCA(t, c)

	if got := ca.Subject.CommonName; got != "puawatch simulator CA" {
		t.Errorf("CA subject CN = %q, want %q", got, "puawatch simulator CA")
	}
	if !bytes.Equal(ca.RawSubject, ca.RawIssuer) {
		t.Error("CA is not self-issued")
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key algorithm = %v, want ECDSA", ca.PublicKeyAlgorithm)
	} else if pub := ca.PublicKey.(*ecdsa.PublicKey); pub.Curve != elliptic.P256() {
		t.Errorf("CA key curve = %v, want P-256", pub.Curve.Params().Name)
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		t.Errorf("CA BasicConstraintsValid=%v IsCA=%v, want both true", ca.BasicConstraintsValid, ca.IsCA)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; ca.KeyUsage != want {
		t.Errorf("CA KeyUsage = %#x, want %#x (CertSign|CRLSign)", int(ca.KeyUsage), int(want))
	}
	if len(ca.ExtKeyUsage) != 0 {
		t.Errorf("CA ExtKeyUsage = %v, want none", ca.ExtKeyUsage)
	}
	checkSerial(t, "CA", ca)

	// Raw extensions, as strict verifiers see them.
	bc := findExt(t, ca, oidBasicConstraints)
	if !bc.Critical {
		t.Error("CA basicConstraints (2.5.29.19) is not critical")
	}
	if !rawBasicConstraints(t, bc.Value) {
		t.Error("CA basicConstraints cA is false")
	}
	ku := findExt(t, ca, oidKeyUsage)
	if !ku.Critical {
		t.Error("CA keyUsage (2.5.29.15) is not critical")
	}
	if got, want := rawKeyUsage(t, ku.Value), x509.KeyUsageCertSign|x509.KeyUsageCRLSign; got != want {
		t.Errorf("CA raw keyUsage = %#x, want %#x", int(got), int(want))
	}
	skid := findExt(t, ca, oidSubjectKeyID)
	if skid.Critical {
		t.Error("CA subjectKeyIdentifier is critical")
	}
	if len(ca.SubjectKeyId) == 0 {
		t.Error("CA has an empty SubjectKeyId")
	}

	// Validity: from now-1h to now+validity.
	if want := now.Add(-time.Hour); !ca.NotBefore.Equal(want) {
		t.Errorf("CA NotBefore = %v, want %v", ca.NotBefore, want)
	}
	if want := now.Add(24 * time.Hour); !ca.NotAfter.Equal(want) {
		t.Errorf("CA NotAfter = %v, want %v", ca.NotAfter, want)
	}
}

func TestNewCertsLeaf(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	c := newTestCerts(t, now)
	ca := parseCA(t, c)
	leaf := parseLeaf(t, c)

	if c.Leaf.Leaf != nil && !bytes.Equal(c.Leaf.Leaf.Raw, leaf.Raw) {
		t.Error("Leaf.Leaf differs from Leaf.Certificate[0]")
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("leaf is not signed by the CA: %v", err)
	}
	if !bytes.Equal(leaf.RawIssuer, ca.RawSubject) {
		t.Error("leaf issuer is not the CA subject")
	}
	if leaf.IsCA {
		t.Error("leaf IsCA is true")
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf KeyUsage = %#x, want %#x (DigitalSignature only)", int(leaf.KeyUsage), int(x509.KeyUsageDigitalSignature))
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("leaf ExtKeyUsage = %v, want [ServerAuth]", leaf.ExtKeyUsage)
	}
	checkSerial(t, "leaf", leaf)
	if leaf.SerialNumber.Cmp(ca.SerialNumber) == 0 {
		t.Error("leaf and CA have the same serial number")
	}

	// SANs: names as DNSNames, addresses as IPAddresses, no duplicates.
	wantDNS := []string{"localhost", testExtraHost}
	if !sameStrings(leaf.DNSNames, wantDNS) {
		t.Errorf("leaf DNSNames = %q, want %q", leaf.DNSNames, wantDNS)
	}
	var gotIPs []string
	for _, ip := range leaf.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	wantIPs := []string{"127.0.0.1", "::1", testExtraIP}
	if !sameStrings(gotIPs, wantIPs) {
		t.Errorf("leaf IPAddresses = %q, want %q", gotIPs, wantIPs)
	}
	if len(leaf.EmailAddresses) != 0 || len(leaf.URIs) != 0 {
		t.Errorf("leaf has unexpected SANs: emails %q, URIs %v", leaf.EmailAddresses, leaf.URIs)
	}
	findExt(t, leaf, oidSubjectAltName)

	// Raw extensions.
	if bc := findExt(t, leaf, oidBasicConstraints); rawBasicConstraints(t, bc.Value) {
		t.Error("leaf raw basicConstraints cA is true")
	}
	ku := findExt(t, leaf, oidKeyUsage)
	if got := rawKeyUsage(t, ku.Value); got != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf raw keyUsage = %#x, want %#x (DigitalSignature)", int(got), int(x509.KeyUsageDigitalSignature))
	}
	skid := findExt(t, leaf, oidSubjectKeyID)
	if skid.Critical || len(leaf.SubjectKeyId) == 0 {
		t.Errorf("leaf subjectKeyIdentifier critical=%v len=%d, want non-critical and non-empty", skid.Critical, len(leaf.SubjectKeyId))
	}
	if bytes.Equal(leaf.SubjectKeyId, ca.SubjectKeyId) {
		t.Error("leaf SubjectKeyId equals the CA's")
	}
	akid := findExt(t, leaf, oidAuthorityKeyID)
	if akid.Critical {
		t.Error("leaf authorityKeyIdentifier is critical")
	}
	if len(leaf.AuthorityKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, ca.SubjectKeyId) {
		t.Errorf("leaf AuthorityKeyId = %x, want CA SubjectKeyId %x", leaf.AuthorityKeyId, ca.SubjectKeyId)
	}

	// Validity: from now-1h to now+validity, inside the CA's.
	if want := now.Add(-time.Hour); !leaf.NotBefore.Equal(want) {
		t.Errorf("leaf NotBefore = %v, want %v", leaf.NotBefore, want)
	}
	if want := now.Add(24 * time.Hour); !leaf.NotAfter.Equal(want) {
		t.Errorf("leaf NotAfter = %v, want %v", leaf.NotAfter, want)
	}
	if leaf.NotBefore.Before(ca.NotBefore) || leaf.NotAfter.After(ca.NotAfter) {
		t.Errorf("leaf validity [%v, %v] is not inside the CA's [%v, %v]",
			leaf.NotBefore, leaf.NotAfter, ca.NotBefore, ca.NotAfter)
	}
}

func TestNewCertsFreshMaterial(t *testing.T) {
	now := time.Now()
	a := newTestCerts(t, now)
	b := newTestCerts(t, now)
	if a.CA.SerialNumber.Cmp(b.CA.SerialNumber) == 0 {
		t.Error("two CAs share a serial number")
	}
	if bytes.Equal(a.CA.SubjectKeyId, b.CA.SubjectKeyId) {
		t.Error("two CAs share a key")
	}
	if err := a.Leaf.Leaf.CheckSignatureFrom(b.CA); err == nil {
		t.Error("a leaf verifies against another NewCerts call's CA")
	}
}

func TestNewCertsRejectsBadInput(t *testing.T) {
	now := time.Now()
	for _, v := range []time.Duration{0, -time.Hour} {
		if _, err := NewCerts(nil, now, v); err == nil {
			t.Errorf("NewCerts(validity %v) succeeded, want an error", v)
		}
	}
	if _, err := NewCerts([]string{"https://example.test/"}, now, time.Hour); err == nil {
		t.Error("NewCerts accepted a URL as a host")
	}
	c, err := NewCerts([]string{"[2001:db8::1]"}, now, time.Hour)
	if err != nil {
		t.Fatalf("NewCerts with a bracketed IPv6 address: %v", err)
	}
	if err := c.Leaf.Leaf.VerifyHostname("2001:db8::1"); err != nil {
		t.Errorf("bracketed IPv6 host not in the leaf: %v", err)
	}
}

func TestLeafVerifiesAgainstClientPool(t *testing.T) {
	c := newTestCerts(t, time.Now())
	leaf := parseLeaf(t, c)
	pool := c.ClientPool()
	for _, host := range []string{"localhost", "127.0.0.1", "::1", testExtraHost, testExtraIP} {
		_, err := leaf.Verify(x509.VerifyOptions{
			DNSName:   host,
			Roots:     pool,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify leaf for %q: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: pool}); err == nil {
		t.Error("leaf verified for a host it does not name")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: x509.NewCertPool()}); err == nil {
		t.Error("leaf verified against an empty pool")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		DNSName:     "localhost",
		Roots:       pool,
		CurrentTime: time.Now().Add(48 * time.Hour),
	}); err == nil {
		t.Error("leaf verified after its validity")
	}
	// The pool holds only the CA: the leaf itself is not trusted as a root.
	chains, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, chain := range chains {
		if len(chain) != 2 || !bytes.Equal(chain[1].Raw, c.CA.Raw) {
			t.Errorf("unexpected chain of %d certificates", len(chain))
		}
	}
}

// testLogWriter sends server log lines (expected handshake failures) to the
// test log instead of stderr.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startTLSServer serves "ok" over HTTPS with c's server config.
func startTLSServer(t *testing.T, c *Certs) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(testLogWriter{t}, "httptest: ", 0)
	srv.TLS = c.ServerTLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, u.Port()
}

func TestServerTLSConfig(t *testing.T) {
	c := newTestCerts(t, time.Now())
	cfg := c.ServerTLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want TLS 1.2", cfg.MinVersion)
	}
	if len(cfg.Certificates) != 1 || len(cfg.Certificates[0].Certificate) != 1 ||
		!bytes.Equal(cfg.Certificates[0].Certificate[0], c.Leaf.Certificate[0]) {
		t.Error("ServerTLSConfig does not serve exactly the leaf")
	}

	_, port := startTLSServer(t, c)
	trusting := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: c.ClientPool()},
		},
	}
	t.Cleanup(trusting.CloseIdleConnections)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		u := "https://" + net.JoinHostPort(host, port) + "/"
		resp, err := trusting.Get(u)
		if err != nil {
			t.Errorf("GET %s trusting the CA: %v", u, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Errorf("GET %s: %s %q", u, resp.Status, body)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET %s: not TLS 1.2 or later: %+v", u, resp.TLS)
		}
	}

	// System roots only: the throw-away CA is not trusted.
	system := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{}},
	}
	t.Cleanup(system.CloseIdleConnections)
	u := "https://" + net.JoinHostPort("127.0.0.1", port) + "/"
	resp, err := system.Get(u)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s with system roots succeeded, want an x509 error", u)
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("GET %s with system roots: %v, want a certificate verification error", u, err)
	}
	var unknown x509.UnknownAuthorityError
	var noRoots x509.SystemRootsError
	if !errors.As(err, &unknown) && !errors.As(err, &noRoots) {
		t.Errorf("GET %s with system roots: %v, want an unknown-authority x509 error", u, err)
	}

	// A client that enforces TLS 1.1 at most is refused.
	old := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: c.ClientPool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
		}},
	}
	t.Cleanup(old.CloseIdleConnections)
	if resp, err := old.Get(u); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
}

func TestWriteCAFile(t *testing.T) {
	c := newTestCerts(t, time.Now())
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.pem")

	// Pre-create the file with other contents and a restrictive mode to
	// check truncation and the final mode.
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteCAFile(path); err != nil {
		t.Fatalf("WriteCAFile over an existing file: %v", err)
	}
	checkCAFile(t, c, path)

	fresh := filepath.Join(dir, "fresh.pem")
	if err := c.WriteCAFile(fresh); err != nil {
		t.Fatalf("WriteCAFile to a new file: %v", err)
	}
	checkCAFile(t, c, fresh)

	if err := c.WriteCAFile(filepath.Join(dir, "missing", "ca.pem")); err == nil {
		t.Error("WriteCAFile into a missing directory succeeded")
	}
}

func checkCAFile(t *testing.T, c *Certs, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, c.CAPEM) {
		t.Errorf("%s does not hold exactly CAPEM (%d bytes, want %d)", path, len(data), len(c.CAPEM))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		t.Errorf("%s: AppendCertsFromPEM rejected the file", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("%s mode = %#o, want 0644", path, got)
	}
}

// writeLeafPEM writes the leaf certificate as PEM into dir.
func writeLeafPEM(t *testing.T, c *Certs, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "leaf.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Certificate[0]})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenSSLStrictVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on the PATH; this optional cross-check needs it")
	}
	c := newTestCerts(t, time.Now())
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := c.WriteCAFile(caPath); err != nil {
		t.Fatal(err)
	}
	leafPath := writeLeafPEM(t, c, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := run("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caPath, leafPath)
	if err != nil {
		t.Fatalf("openssl verify -x509_strict: %v\n%s", err, out)
	}
	if !strings.HasSuffix(out, ": OK") {
		t.Errorf("openssl verify output %q, want it to end in \": OK\"", out)
	}
	for _, host := range []string{"localhost", testExtraHost} {
		if out, err := run("verify", "-x509_strict", "-CAfile", caPath, "-verify_hostname", host, leafPath); err != nil {
			t.Errorf("openssl verify -verify_hostname %s: %v\n%s", host, err, out)
		}
	}
	if out, err := run("verify", "-x509_strict", "-CAfile", caPath, "-verify_ip", "127.0.0.1", leafPath); err != nil {
		t.Errorf("openssl verify -verify_ip 127.0.0.1: %v\n%s", err, out)
	}
	// The check can fail: a host the leaf does not name is refused.
	if out, err := run("verify", "-x509_strict", "-CAfile", caPath, "-verify_hostname", "other.test", leafPath); err == nil {
		t.Errorf("openssl verified the leaf for other.test:\n%s", out)
	}
	// And the CA itself verifies as a strict self-signed root.
	if out, err := run("verify", "-x509_strict", "-CAfile", caPath, caPath); err != nil {
		t.Errorf("openssl verify -x509_strict of the CA: %v\n%s", err, out)
	}
}

// pythonClient connects to https://host:port/ trusting only the CA file in
// argv[1], with strict X.509 verification, and prints the response body.
const pythonClient = `
import ssl, sys, urllib.request
cafile, url = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
strict = getattr(ssl, "VERIFY_X509_STRICT", None)
if strict is not None:
    ctx.verify_flags |= strict
    if not ctx.verify_flags & strict:
        sys.exit("VERIFY_X509_STRICT not set")
if not ctx.check_hostname or ctx.verify_mode != ssl.CERT_REQUIRED:
    sys.exit("default context does not verify")
with urllib.request.urlopen(url, context=ctx, timeout=20) as resp:
    sys.stdout.write("%d %s %s" % (resp.status, resp.read().decode(), ssl.OPENSSL_VERSION))
`

func TestPythonStrictClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on the PATH; this optional cross-check needs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-c", "import ssl").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import ssl (%v): %s", err, out)
	}

	c := newTestCerts(t, time.Now())
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := c.WriteCAFile(caPath); err != nil {
		t.Fatal(err)
	}
	_, port := startTLSServer(t, c)

	for _, host := range []string{"127.0.0.1", "localhost"} {
		u := "https://" + net.JoinHostPort(host, port) + "/"
		out, err := exec.CommandContext(ctx, python, "-c", pythonClient, caPath, u).CombinedOutput()
		if err != nil {
			t.Errorf("python strict client to %s: %v\n%s", u, err, out)
			continue
		}
		if !strings.HasPrefix(string(out), "200 ok ") {
			t.Errorf("python strict client to %s printed %q, want \"200 ok ...\"", u, out)
		}
		t.Logf("python3 %s: %s", u, out)
	}

	// The check can fail: a different CA is not trusted.
	other := newTestCerts(t, time.Now())
	otherPath := filepath.Join(dir, "other.pem")
	if err := other.WriteCAFile(otherPath); err != nil {
		t.Fatal(err)
	}
	u := "https://" + net.JoinHostPort("127.0.0.1", port) + "/"
	if out, err := exec.CommandContext(ctx, python, "-c", pythonClient, otherPath, u).CombinedOutput(); err == nil {
		t.Errorf("python client trusting another CA connected: %s", out)
	}
}

func checkSerial(t *testing.T, what string, cert *x509.Certificate) {
	t.Helper()
	s := cert.SerialNumber
	if s == nil || s.Sign() <= 0 {
		t.Errorf("%s serial %v is not positive", what, s)
		return
	}
	if s.BitLen() > 128 {
		t.Errorf("%s serial has %d bits, want at most 128", what, s.BitLen())
	}
	// A random 128-bit value is shorter than 64 bits with probability 2^-64.
	if s.BitLen() < 64 {
		t.Errorf("%s serial %v is implausibly small for a random 128-bit value", what, s)
	}
}

func sameStrings(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := make(map[string]int)
	for _, s := range got {
		seen[s]++
	}
	for _, s := range want {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
