package central

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/secret"
)

// Every error of the client names its operation once, after one
// "central: " prefix: "central: whoami: HTTP 401 ...", never
// "whoami: whoami: ..." nor "central: ...: central: ...".
func TestErrorTextNamesTheOperationOnce(t *testing.T) {
	once := func(t *testing.T, err error, op string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want a failed %s", op)
		}
		s := err.Error()
		if n := strings.Count(s, "central: "); n != 1 || !strings.HasPrefix(s, "central: ") {
			t.Errorf("%q: want exactly one leading \"central: \"", s)
		}
		if n := strings.Count(s, op+":") + strings.Count(s, op+" ("); n != 1 {
			t.Errorf("%q names %s %d times, want once", s, op, n)
		}
	}

	t.Run("whoami 401", func(t *testing.T) {
		s, srv := startSim(t, smallConfig())
		e := newEnv(t, s, srv, IDTypePartner, nil)
		if err := s.SetFaults(sim.Faults{RevokeRate: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.Whoami(context.Background())
		const want = "central: whoami: HTTP 401 Unauthorized: the API refused a freshly issued token: " +
			"check that the API credential still exists and its role allows this call"
		if err == nil || err.Error() != want {
			t.Fatalf("Whoami with every token refused:\n got %v\nwant %s", err, want)
		}
		once(t, err, "whoami")
	})

	t.Run("tenants 403", func(t *testing.T) {
		s, srv := startSim(t, smallConfig())
		e := newEnv(t, s, srv, IDTypeTenant, nil)
		// A tenant credential asking for a partner's tenant list.
		_, err := e.c.Tenants(context.Background(), Whoami{ID: "p-1", IDType: IDTypePartner})
		const want = "central: tenants: HTTP 403 Forbidden: this credential is a tenant credential, not a partner one"
		if err == nil || err.Error() != want {
			t.Fatalf("Tenants of a partner with a tenant credential:\n got %v\nwant %s", err, want)
		}
		once(t, err, "tenants")
	})

	t.Run("tenants 5xx after the retries", func(t *testing.T) {
		s, srv := startSim(t, smallConfig())
		e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 2 })
		who, err := e.c.Whoami(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		_, err = e.c.Tenants(context.Background(), who)
		re := regexp.MustCompile(`^central: tenants: HTTP 50[0234]\b.* \(gave up after 2 attempts\)$`)
		if err == nil || !re.MatchString(err.Error()) {
			t.Fatalf("Tenants with every answer a 5xx:\n got %v\nwant %s", err, re)
		}
		once(t, err, "tenants")
	})

	t.Run("events cancelled after a failure", func(t *testing.T) {
		s, srv := startSim(t, smallConfig())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 10 })
		if _, err := e.c.Whoami(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		e.sleep.then = func(time.Duration) { cancel() }
		tn := e.tenant(t, 0)
		_, err := e.c.Events(ctx, EventsRequest{Tenant: tn})
		re := regexp.MustCompile(`^central: events \(tenant ` + regexp.QuoteMeta(tn.ID) + `\): context canceled \(last failure: HTTP 50[0234]\b.*\)$`)
		if err == nil || !re.MatchString(err.Error()) {
			t.Fatalf("Events cancelled during the backoff:\n got %v\nwant %s", err, re)
		}
		once(t, err, "events")
	})

	t.Run("events of a refused apiHost", func(t *testing.T) {
		s, srv := startSim(t, smallConfig())
		e := newEnv(t, s, srv, IDTypePartner, nil)
		_, err := e.c.Events(context.Background(), EventsRequest{Tenant: Tenant{ID: "t-1", APIHost: "https://evil.example"}})
		once(t, err, "events")
		if !strings.Contains(err.Error(), `apiHost "https://evil.example" refused`) {
			t.Errorf("%v: want the refused apiHost named", err)
		}
	})

	t.Run("token over untrusted TLS", func(t *testing.T) {
		certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s := sim.New(smallConfig())
		srv, err := sim.Start(s, sim.ListenOptions{TLS: certs.ServerTLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		cred, _ := s.Credential(IDTypePartner)
		c, err := New(Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)},
			Options{AuthURL: s.TokenURL(), APIURL: srv.GlobalURL, Sleep: (&sleeper{}).Sleep})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Whoami(context.Background())
		once(t, err, "token")
		if !strings.HasPrefix(err.Error(), "central: token: TLS certificate not trusted") {
			t.Errorf("%v: want it to say the certificate is not trusted", err)
		}
	})
}
