package sim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// token_hang leaves the token endpoint unanswered while the API answers
// the tokens issued before; with hang_for it answers 504 after it.
func TestFaultTokenHang(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 10 }).login(t)
	fltSet(t, e.s, `{"faults":{"token_hang":true}}`)
	c, _ := e.s.Credential("partner")
	post := func(ctx context.Context) (*http.Response, error) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
			"client_secret": {c.ClientSecret}, "scope": {"token"}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.s.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		resp, err := post(ctx)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// While the token request hangs, the token issued before still reads.
	for e.s.Counters().Stats["token_hangs"] == 0 {
		time.Sleep(time.Millisecond)
	}
	if status := fltStatus(t, e, "events", e.tid); status != http.StatusOK {
		t.Errorf("events with a token issued before the hang: status %d, want 200", status)
	}
	select {
	case err := <-done:
		t.Fatalf("the token request was answered (err %v) while token_hang is set", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("hanging token request ended with %v, want it cancelled by the client", err)
	}
	if n := fltStat(e, "hangs"); n != 0 {
		t.Errorf("Stats[hangs] = %d: token_hang must not hang the API", n)
	}

	fltSet(t, e.s, `{"faults":{"token_hang":true,"hang_for":"10ms"}}`)
	resp, err := post(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("token_hang with hang_for: status %d, want 504", resp.StatusCode)
	}
	if n := fltStat(e, "token_hangs"); n != 2 {
		t.Errorf("Stats[token_hangs] = %d, want 2", n)
	}
}
