package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/spf13/pflag"
)

// lockedBuffer is an io.Writer the command writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// simRun is a `puawatch sim` running in the background.
type simRun struct {
	stdout, stderr *lockedBuffer
	cancel         context.CancelFunc
	done           chan int // receives Main's exit status
	hint           string   // added to the failure when Main returns before serving
}

// startSimCmd runs Main with args until the test ends or stop is called.
func startSimCmd(t *testing.T, args ...string) *simRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &simRun{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- Main(ctx, args, strings.NewReader(""), r.stdout, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("Main did not return after its context was cancelled")
		}
	})
	return r
}

// waitBanner polls stdout until the banner's last line appears. It fails
// the test if Main returns first.
func (r *simRun) waitBanner(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a safety net, not a timing assertion
	for {
		if out := r.stdout.String(); strings.Contains(out, "Serving until interrupted") {
			return out
		}
		select {
		case code := <-r.done:
			r.done <- code // for the cleanup
			t.Fatalf("Main returned %d before serving%s\nstdout:\n%s\nstderr:\n%s", code, r.hint, r.stdout, r.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"Serving until interrupted\" line\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
	}
}

// stop cancels the context and returns Main's exit status.
func (r *simRun) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("Main did not return after its context was cancelled")
		return -1
	}
}

// banner is what `puawatch sim` printed.
type banner struct {
	global, tokenURL string
	regions          map[string]string
	creds            map[string][3]string // id type -> client id, secret, whoami id
	env              map[string]string    // PUAWATCH_* and SSL_CERT_FILE
}

var (
	globalRE = regexp.MustCompile(`(?m)^\s+global host\s+(\S+)\s+\(token: (\S+)\)$`)
	regionRE = regexp.MustCompile(`(?m)^\s+region (\S+)\s+(\S+)$`)
	credRE   = regexp.MustCompile(`(?m)^\s+(partner|organization|tenant)\s+client_id=(\S+) client_secret=(\S+) \((\w+) id (\S+)\)$`)
	envRE    = regexp.MustCompile(`(?m)^\s+export ([A-Z_]+)=(\S+)$`)
)

func parseBanner(t *testing.T, out string) banner {
	t.Helper()
	b := banner{regions: map[string]string{}, creds: map[string][3]string{}, env: map[string]string{}}
	m := globalRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no global host line in:\n%s", out)
	}
	b.global, b.tokenURL = m[1], m[2]
	for _, m := range regionRE.FindAllStringSubmatch(out, -1) {
		b.regions[m[1]] = m[2]
	}
	for _, m := range credRE.FindAllStringSubmatch(out, -1) {
		if m[1] != m[4] {
			t.Errorf("credential line %q names two id types", m[0])
		}
		b.creds[m[1]] = [3]string{m[2], m[3], m[5]}
	}
	for _, m := range envRE.FindAllStringSubmatch(out, -1) {
		b.env[m[1]] = m[2]
	}
	return b
}

// postToken asks for a token with form credentials.
func postToken(t *testing.T, c *http.Client, tokenURL, id, secret string) (int, map[string]any) {
	t.Helper()
	resp, err := c.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
		"client_secret": {secret}, "scope": {"token"}})
	if err != nil {
		t.Fatalf("token request to %s: %v", tokenURL, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token answer %q: %v", b, err)
	}
	return resp.StatusCode, m
}

// apiGet makes an authenticated GET and decodes the JSON answer into v.
func apiGet(t *testing.T, c *http.Client, u, tok string, v any, headers ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for _, h := range headers {
		k, val, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(val))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %q: %v", u, b, err)
		}
	} else {
		t.Logf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func TestSimHelpMentionsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"sim", "--help"}, strings.NewReader(""), &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("sim --help exited %d, want 0; stderr:\n%s", code, stderr.String())
	}
	help := stdout.String()
	n := 0
	newSimCmd(&env{stdout: io.Discard, stderr: io.Discard}).Flags().VisitAll(func(f *pflag.Flag) {
		n++
		_, usage := pflag.UnquoteUsage(f)
		if strings.TrimSpace(usage) == "" {
			t.Errorf("flag --%s has no help text", f.Name)
		}
		line := regexp.MustCompile(`(?m)^\s+(-\w, )?--` + regexp.QuoteMeta(f.Name) + `\b.*$`).FindString(help)
		switch {
		case line == "":
			t.Errorf("sim --help does not list --%s", f.Name)
		case usage != "" && !strings.Contains(line, usage):
			t.Errorf("sim --help line for --%s lacks its help text %q: %q", f.Name, usage, line)
		}
	})
	for _, name := range []string{"addr", "mode", "tenants", "tls", "ca-file", "fault-error-rate"} {
		if !strings.Contains(help, "--"+name) {
			t.Errorf("sim --help does not mention --%s", name)
		}
	}
	if n < 30 {
		t.Errorf("newSimCmd has %d flags; expected the 30-odd flags of the sim command", n)
	}
	if !strings.Contains(help, "control API") || !strings.Contains(help, "puawatch sim --mode partner") {
		t.Errorf("sim --help lacks the long description or the examples:\n%s", help)
	}
}

func TestSimServesPartnerMode(t *testing.T) {
	r := startSimCmd(t, "sim", "--mode", "partner", "--tenants", "50", "--addr", "127.0.0.1:0")
	out := r.waitBanner(t)
	b := parseBanner(t, out)

	if !strings.HasPrefix(b.global, "http://127.0.0.1:") || strings.HasSuffix(b.global, ":0") {
		t.Errorf("global URL %q, want http://127.0.0.1:<a real port>", b.global)
	}
	if b.tokenURL != b.global+"/api/v2/oauth2/token" {
		t.Errorf("token URL %q, want %q", b.tokenURL, b.global+"/api/v2/oauth2/token")
	}
	seen := map[string]bool{b.global: true}
	for _, region := range []string{"eu01", "us03"} { // the default --regions
		u := b.regions[region]
		if u == "" || !strings.HasPrefix(u, "http://127.0.0.1:") || seen[u] {
			t.Errorf("region %s URL %q: want its own http://127.0.0.1:<port>", region, u)
		}
		seen[u] = true
	}
	if len(b.regions) != 2 {
		t.Errorf("regions printed: %v, want eu01 and us03", b.regions)
	}
	for _, kind := range []string{"partner", "organization", "tenant"} {
		c, ok := b.creds[kind]
		if !ok || c[0] == "" || c[1] == "" || c[2] == "" {
			t.Errorf("no complete %s credential line in:\n%s", kind, out)
		}
	}
	wantEnv := map[string]string{
		"PUAWATCH_CLIENT_ID":     b.creds["partner"][0],
		"PUAWATCH_CLIENT_SECRET": b.creds["partner"][1],
		"PUAWATCH_API_URL":       b.global,
		"PUAWATCH_AUTH_URL":      b.tokenURL,
	}
	for k, v := range wantEnv {
		if got, ok := b.env[k]; !ok || got != v {
			t.Errorf("export %s=%q, want %q (the partner credential and the printed URLs)", k, got, v)
		}
	}
	if _, ok := b.env["SSL_CERT_FILE"]; ok || b.env["PUAWATCH_CA_FILE"] != "" {
		t.Errorf("SSL_CERT_FILE or PUAWATCH_CA_FILE printed without --tls")
	}
	if t.Failed() {
		t.Fatalf("banner:\n%s", out)
	}

	// A client set up from the printed environment works.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	st, tok := postToken(t, client, b.env["PUAWATCH_AUTH_URL"], b.env["PUAWATCH_CLIENT_ID"], b.env["PUAWATCH_CLIENT_SECRET"])
	if st != http.StatusOK || tok["access_token"] == nil {
		t.Fatalf("token with the printed PUAWATCH_* values: %d %v", st, tok)
	}
	access := tok["access_token"].(string)
	var who struct {
		ID, IDType string
		APIHosts   map[string]string
	}
	if st := apiGet(t, client, b.env["PUAWATCH_API_URL"]+"/whoami/v1", access, &who); st != http.StatusOK {
		t.Fatalf("whoami: %d", st)
	}
	if who.IDType != "partner" || who.ID != b.creds["partner"][2] || who.APIHosts["global"] != b.global {
		t.Errorf("whoami = %+v, want the printed partner id %s on %s", who, b.creds["partner"][2], b.global)
	}
	var list struct {
		Items []struct{ ID, APIHost string }
		Pages map[string]int
	}
	u := b.env["PUAWATCH_API_URL"] + "/partner/v1/tenants?pageTotal=true&pageSize=100"
	if st := apiGet(t, client, u, access, &list, "X-Partner-ID: "+who.ID); st != http.StatusOK {
		t.Fatalf("partner tenants: %d", st)
	}
	if list.Pages["items"] != 50 || len(list.Items) != 50 {
		t.Errorf("partner tenants: pages.items %d, %d items; want 50 (--tenants 50)", list.Pages["items"], len(list.Items))
	}
	for _, it := range list.Items {
		if it.APIHost != b.regions["eu01"] && it.APIHost != b.regions["us03"] {
			t.Errorf("tenant %s apiHost %q is not a printed region URL", it.ID, it.APIHost)
			break
		}
	}

	if code := r.stop(t); code != ExitOK {
		t.Errorf("Main returned %d after the context was cancelled, want 0; stderr:\n%s", code, r.stderr)
	}
	if _, err := client.Get(b.global + "/sim/v1/credentials"); err == nil {
		t.Errorf("the global host still answers after Main returned")
	}
}

// TestSimBannerJSON: with --banner json the simulator prints one JSON line
// (sim.Ready) once it serves, whose URLs answer, and no secret: the
// credentials come from the control API it names.
func TestSimBannerJSON(t *testing.T) {
	r := startSimCmd(t, "sim", "--banner", "json", "--tenants", "3", "--addr", "127.0.0.1:0")
	var line string
	deadline := time.Now().Add(30 * time.Second) // a safety net, not a timing assertion
	for line == "" && time.Now().Before(deadline) {
		if out := r.stdout.String(); strings.HasSuffix(out, "\n") {
			line = out
		}
		time.Sleep(5 * time.Millisecond)
	}
	if strings.Count(line, "\n") != 1 {
		t.Fatalf("stdout %q: want exactly one line", line)
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	var ready sim.Ready
	if err := dec.Decode(&ready); err != nil {
		t.Fatalf("stdout %q is not a sim.Ready: %v", line, err)
	}
	if !strings.HasPrefix(ready.GlobalURL, "http://127.0.0.1:") || ready.TokenURL != ready.GlobalURL+"/api/v2/oauth2/token" ||
		ready.ControlURL != ready.GlobalURL+"/sim/v1/" || len(ready.Regions) != 2 {
		t.Errorf("ready = %+v, want the global, token and control URLs on one port and the two default regions", ready)
	}
	resp, err := http.Get(ready.ControlURL + "credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var creds struct {
		Credentials []sim.Credential `json:"credentials"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&creds); err != nil || len(creds.Credentials) != 3 {
		t.Fatalf("control API credentials: %v, %d credentials", err, len(creds.Credentials))
	}
	for _, c := range creds.Credentials {
		if strings.Contains(line, c.ClientSecret) {
			t.Errorf("the ready line holds the %s client secret", c.IDType)
		}
	}
}

func TestSimUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		mention []string // in stderr
	}{
		{"bogus mode", []string{"sim", "--mode", "bogus"}, []string{"--mode", "bogus"}},
		{"unknown flag", []string{"sim", "--no-such-flag"}, []string{"no-such-flag"}},
		{"no tenants", []string{"sim", "--tenants", "0"}, []string{"--tenants"}},
		{"rate out of range", []string{"sim", "--fault-error-rate", "1.5"}, []string{"--fault-error-rate 1.5", "from 0 to 1"}},
		{"stray argument", []string{"sim", "extra"}, []string{"extra"}},
		{"bad flag value", []string{"sim", "--tenants", "many"}, []string{"--tenants"}},
		// Each names the flag, the value and the range accepted.
		{"negative rate", []string{"sim", "--rate", "-1"}, []string{"--rate -1", "0 or more"}},
		{"share above 1", []string{"sim", "--hostile-share", "2"}, []string{"--hostile-share 2", "from 0 to 1"}},
		{"negative share", []string{"sim", "--late-share", "-0.1"}, []string{"--late-share -0.1", "from 0 to 1"}},
		{"unknown region", []string{"sim", "--regions", "eu01,mars01"}, []string{"--regions", `"mars01"`, "eu01, eu02, us01"}},
		{"duplicate region", []string{"sim", "--regions", "eu01,eu01"}, []string{"--regions", `"eu01"`, "twice"}},
		{"backlog past retention", []string{"sim", "--backlog", "48h"}, []string{"--backlog 48h", "at most 24h"}},
		{"no backlog span", []string{"sim", "--backlog", "0s"}, []string{"--backlog 0s", "more than 0s"}},
		{"negative backlog events", []string{"sim", "--events-per-tenant", "-5"}, []string{"--events-per-tenant -5", "0 or more"}},
		{"zero token lifetime", []string{"sim", "--token-lifetime", "0s"}, []string{"--token-lifetime 0s", "more than 0s"}},
		{"zero max limit", []string{"sim", "--max-limit", "0"}, []string{"--max-limit 0", "1 or more"}},
		{"negative limit", []string{"sim", "--limit-per-second", "-1"}, []string{"--limit-per-second -1", "0 or more"}},
		{"fault rate flag", []string{"sim", "--fault-replay-rate", "3"}, []string{"--fault-replay-rate 3", "from 0 to 1"}},
		{"negative latency", []string{"sim", "--fault-latency", "-1s"}, []string{"--fault-latency -1s", "0s or more"}},
		{"unknown banner", []string{"sim", "--banner", "yaml"}, []string{"--banner", `"yaml"`, "text or json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// --addr :0 keeps a wrongly accepted command off fixed ports; the
			// timeout ends it if it serves instead of failing.
			args := append(tt.args, "--addr", "127.0.0.1:0")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr lockedBuffer
			code := Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
			if code != ExitUsage {
				t.Errorf("%v exited %d, want %d; stdout:\n%s\nstderr:\n%s", args, code, ExitUsage, stdout.String(), stderr.String())
			}
			for _, m := range tt.mention {
				if !strings.Contains(stderr.String(), m) {
					t.Errorf("stderr %q does not mention %q", stderr.String(), m)
				}
			}
			if strings.Contains(stdout.String(), "Serving until interrupted") {
				t.Errorf("%v served", args)
			}
		})
	}
}

func TestSimTLS(t *testing.T) {
	for _, tc := range []struct{ name, addr, host string }{
		{"IPv4", "127.0.0.1:0", "127.0.0.1"},
		// A bracketed IPv6 --addr must give the certificate the address,
		// not "[" (cli/sim.go splits --addr at the first colon).
		{"IPv6", "[::1]:0", "[::1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			r := startSimCmd(t, "sim", "--tls", "--ca-file", caFile, "--addr", tc.addr,
				"--tenants", "3", "--events-per-tenant", "10", "--rate", "0")
			if tc.name == "IPv6" {
				r.hint = "\ncli/sim.go runSim takes the certificate host as strings.Split(f.addr, \":\")[0], " +
					"which is \"[\" for a bracketed IPv6 --addr; it should use net.SplitHostPort"
			}
			out := r.waitBanner(t)
			b := parseBanner(t, out)
			if !strings.HasPrefix(b.global, "https://"+tc.host+":") {
				t.Errorf("global URL %q, want https://%s:<port>", b.global, tc.host)
			}
			for region, u := range b.regions {
				if !strings.HasPrefix(u, "https://") {
					t.Errorf("region %s URL %q is not https", region, u)
				}
			}
			if b.env["SSL_CERT_FILE"] != caFile || b.env["PUAWATCH_CA_FILE"] != caFile {
				t.Errorf("export SSL_CERT_FILE=%q and PUAWATCH_CA_FILE=%q, want %q", b.env["SSL_CERT_FILE"], b.env["PUAWATCH_CA_FILE"], caFile)
			}
			pemBytes, err := os.ReadFile(caFile)
			if err != nil {
				t.Fatalf("--ca-file not written: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				t.Fatalf("%s holds no PEM certificate:\n%s", caFile, pemBytes)
			}
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				DisableKeepAlives: true,
			}}
			st, tok := postToken(t, client, b.env["PUAWATCH_AUTH_URL"], b.env["PUAWATCH_CLIENT_ID"], b.env["PUAWATCH_CLIENT_SECRET"])
			if st != http.StatusOK || tok["access_token"] == nil {
				t.Fatalf("token over https with the CA file: %d %v", st, tok)
			}
			// A region host verifies against the same CA.
			var who struct{ ID string }
			if st := apiGet(t, client, b.global+"/whoami/v1", tok["access_token"].(string), &who); st != http.StatusOK {
				t.Errorf("whoami over https: %d", st)
			}
			for region, u := range b.regions {
				resp, err := client.Get(u + "/siem/v1/events")
				if err != nil {
					t.Errorf("region %s over https: %v", region, err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("region %s without a token: %d, want 401", region, resp.StatusCode)
				}
			}
			// Without the CA the server is not trusted: the file is what makes it work.
			untrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
			if resp, err := untrusting.Get(b.global + "/sim/v1/credentials"); err == nil {
				resp.Body.Close()
				t.Errorf("a client without the CA reached %s", b.global)
			}
			if code := r.stop(t); code != ExitOK {
				t.Errorf("Main returned %d after cancel, want 0; stderr:\n%s", code, r.stderr)
			}
		})
	}
}

// TestSimLiveStream: `puawatch sim --rate 100` makes live events as its
// clock advances (POST /sim/v1/clock), beyond the backlog, and counts them
// in GET /sim/v1/counters.
func TestSimLiveStream(t *testing.T) {
	r := startSimCmd(t, "sim", "--tenants", "2", "--events-per-tenant", "10", "--rate", "100", "--addr", "127.0.0.1:0")
	b := parseBanner(t, r.waitBanner(t))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	generated := func() int {
		t.Helper()
		resp, err := client.Get(b.global + "/sim/v1/counters")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct {
			Events map[string]map[string]int `json:"events_generated"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, types := range c.Events {
			for _, k := range types {
				n += k
			}
		}
		return n
	}
	before := generated()
	if before < 20 {
		t.Fatalf("%d events generated, want at least the backlog of 20", before)
	}
	resp, err := client.Post(b.global+"/sim/v1/clock", "application/json", strings.NewReader(`{"advance":"1m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sim/v1/clock: %s", resp.Status)
	}
	// A minute at 100 a second.
	if after := generated(); after < before+6000 {
		t.Errorf("after the clock advanced a minute: %d events generated, %d before; want at least 6000 more (--rate 100)", after, before)
	}
}
