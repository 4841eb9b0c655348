package hook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/hook"
	"github.com/puawatch/puawatch/internal/notify/hook/hooktest"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
)

const urlHint = "the test webhook URL"

// channel is a minimal chat channel: its payload is the view's title.
func channel() hook.Channel {
	return hook.Channel{
		Name:    "test",
		URLHint: urlHint,
		Render: func(v render.View, _ *render.Template) ([]byte, error) {
			return json.Marshal(map[string]string{"text": v.Title})
		},
		LoadTemplate: render.Load,
	}
}

// body is what channel posts for hooktest.Single.
const body = `{"text":"PUA PsExec on WS-01 (Contoso)"}`

func newNotifier(t *testing.T, c hook.Config, client *http.Client) *hook.Notifier {
	t.Helper()
	n, err := hook.New(channel(), c, client)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func single() notify.Message { return hooktest.Single("test") }

// webhooks are the path and query, where the secret is, of the webhook
// URLs every failure is tried with.
var webhooks = []struct{ name, pathQuery string }{
	{"slack", hooktest.SlackPath},
	{"slack with a token query", hooktest.SlackPath + "?token=SECRETquery0123456789"},
	{"teams", hooktest.TeamsPath + hooktest.TeamsQuery},
}

// forEachWebhook runs f as a subtest for each of webhooks.
func forEachWebhook(t *testing.T, f func(t *testing.T, pathQuery string)) {
	for _, w := range webhooks {
		t.Run(w.name, func(t *testing.T) { f(t, w.pathQuery) })
	}
}

// checkRedacted fails when err shows more of the webhook URL than its
// scheme and host.
func checkRedacted(t *testing.T, err error) {
	t.Helper()
	for _, bad := range hooktest.Secrets {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error shows the webhook URL (%s): %v", bad, err)
		}
	}
}

func TestNotifyPosts(t *testing.T) {
	forEachWebhook(t, func(t *testing.T, pathQuery string) {
		s := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
		n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
		if err := n.Notify(context.Background(), single()); err != nil {
			t.Fatal(err)
		}
		reqs := s.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		r := reqs[0]
		path, query, _ := strings.Cut(pathQuery, "?")
		if r.Method != http.MethodPost || r.Path != path || r.RawQuery != query {
			t.Errorf("request = %s %s?%s, want POST %s", r.Method, r.Path, r.RawQuery, pathQuery)
		}
		if r.ContentType != "application/json; charset=utf-8" || r.UserAgent != "puawatch" {
			t.Errorf("Content-Type %q, User-Agent %q", r.ContentType, r.UserAgent)
		}
		if string(r.Body) != body {
			t.Errorf("posted %s, want %s", r.Body, body)
		}
	})
}

func TestAny2xxIsAccepted(t *testing.T) {
	for _, status := range []int{200, 202, 204} {
		s := hooktest.NewServer(t, hooktest.Answer{Status: status})
		n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + hooktest.TeamsPath + hooktest.TeamsQuery)}, nil)
		if err := n.Notify(context.Background(), single()); err != nil {
			t.Errorf("HTTP %d: %v", status, err)
		}
	}
}

func TestUnsendableMessageIsPermanent(t *testing.T) {
	s := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
	c := hook.Config{URL: secret.Secret(s.URL + hooktest.SlackPath)}
	n := newNotifier(t, c, nil)
	if err := n.Notify(context.Background(), notify.Message{Key: "empty"}); !notify.IsPermanent(err) {
		t.Errorf("empty message: %v, want a permanent error", err)
	}
	ch := channel()
	ch.Render = func(render.View, *render.Template) ([]byte, error) { return nil, errors.New("cannot render") }
	n, err := hook.New(ch, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), single()); !notify.IsPermanent(err) || !strings.Contains(err.Error(), "cannot render") {
		t.Errorf("message that does not render: %v, want a permanent error", err)
	}
	if len(s.Requests()) != 0 {
		t.Errorf("%d requests for messages that cannot be sent", len(s.Requests()))
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	forEachWebhook(t, func(t *testing.T, pathQuery string) {
		for _, ok := range []hooktest.Answer{{Status: 200, Body: "ok"}, {Status: 202}} {
			t.Run(fmt.Sprintf("500 then %d", ok.Status), func(t *testing.T) {
				s := hooktest.NewServer(t, hooktest.Answer{Status: 500, Body: "internal error"}, ok)
				n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
				err := n.Notify(ctx, single())
				if err == nil || notify.IsPermanent(err) {
					t.Fatalf("first Notify = %v, want a retryable error", err)
				}
				var ra *notify.RetryAfterError
				if errors.As(err, &ra) {
					t.Errorf("500 without Retry-After gave %v", err)
				}
				checkRedacted(t, err)
				if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "k-single") {
					t.Errorf("error = %v", err)
				}
				if err := n.Notify(ctx, single()); err != nil {
					t.Errorf("second Notify = %v", err)
				}
				if len(s.Requests()) != 2 {
					t.Errorf("%d requests", len(s.Requests()))
				}
			})
		}
		t.Run("429 Retry-After", func(t *testing.T) {
			s := hooktest.NewServer(t, hooktest.Answer{Status: 429, RetryAfter: "3", Body: "rate_limited"})
			n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
			err := n.Notify(ctx, single())
			var ra *notify.RetryAfterError
			if !errors.As(err, &ra) || ra.After != 3*time.Second || notify.IsPermanent(err) {
				t.Fatalf("Notify = %v, want a RetryAfterError of 3s", err)
			}
			checkRedacted(t, err)
		})
		// Slack answers a word, Power Automate a JSON error; either may
		// quote the path of the request, which is the secret.
		for _, tt := range []struct {
			status     int
			code, body string
		}{
			{400, "invalid_payload", "invalid_payload for $PATH"},
			{401, "invalid_token", "invalid_token for $PATH"},
			{403, "invalid_token", "invalid_token for $PATH"},
			{404, "no_service", "no_service for $PATH"},
			{410, "channel_is_archived", "channel_is_archived for $PATH"},
			{400, "InvalidRequestContent", `{"error":{"code":"InvalidRequestContent","message":"no flow at $PATH"}}`},
			{401, "DirectApiAuthorizationRequired", `{"error":{"code":"DirectApiAuthorizationRequired","message":"no flow at $PATH"}}`},
			{403, "Forbidden", `{"error":{"code":"Forbidden","message":"no flow at $PATH"}}`},
			{404, "WorkflowNotFound", `{"error":{"code":"WorkflowNotFound","message":"no flow at $PATH"}}`},
		} {
			t.Run(fmt.Sprint(tt.status, " ", tt.code), func(t *testing.T) {
				s := hooktest.NewServer(t, hooktest.Answer{Status: tt.status, Body: tt.body})
				n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
				err := n.Notify(ctx, single())
				if !notify.IsPermanent(err) {
					t.Fatalf("Notify = %v, want permanent", err)
				}
				if !strings.Contains(err.Error(), tt.code) || !strings.Contains(err.Error(), "http://127.0.0.1") {
					t.Errorf("error = %v, want the answer and the host", err)
				}
				checkRedacted(t, err)
			})
		}
		t.Run("unreachable", func(t *testing.T) {
			s := hooktest.NewServer(t)
			url := s.URL + pathQuery
			s.Close()
			n := newNotifier(t, hook.Config{URL: secret.Secret(url)}, nil)
			err := n.Notify(ctx, single())
			if err == nil || notify.IsPermanent(err) {
				t.Fatalf("Notify = %v, want a retryable error", err)
			}
			checkRedacted(t, err)
		})
		t.Run("timeout", func(t *testing.T) {
			block := make(chan struct{})
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-block:
				}
			}))
			t.Cleanup(s.Close)
			defer close(block)
			n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery), Timeout: 50 * time.Millisecond}, nil)
			start := time.Now()
			err := n.Notify(ctx, single())
			if err == nil || notify.IsPermanent(err) || time.Since(start) > 5*time.Second {
				t.Fatalf("Notify = %v after %s, want a retryable timeout", err, time.Since(start))
			}
			checkRedacted(t, err)
		})
		t.Run("redirect", func(t *testing.T) {
			target := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
			}))
			t.Cleanup(s.Close)
			n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
			err := n.Notify(ctx, single())
			if !notify.IsPermanent(err) || len(target.Requests()) != 0 {
				t.Fatalf("Notify = %v, %d requests to the redirect target; want permanent and none", err, len(target.Requests()))
			}
			checkRedacted(t, err)
		})
	})
}

func TestDefaultClientVerifiesCertificates(t *testing.T) {
	forEachWebhook(t, func(t *testing.T, pathQuery string) {
		s := hooktest.NewTLSServer(t)
		n := newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, nil)
		err := n.Notify(context.Background(), single())
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Notify to a self-signed server = %v, want a certificate error", err)
		}
		checkRedacted(t, err)
		// The test server's own client trusts it: the payload goes through.
		n = newNotifier(t, hook.Config{URL: secret.Secret(s.URL + pathQuery)}, s.Client())
		if err := n.Notify(context.Background(), single()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestValidate(t *testing.T) {
	const (
		slackHost = "https://hooks.slack.com"
		teamsHost = "https://prod-12.westeurope.logic.azure.com:443"
		slackURL  = slackHost + hooktest.SlackPath
		teamsURL  = teamsHost + hooktest.TeamsPath + hooktest.TeamsQuery
	)
	for name, tt := range map[string]struct {
		c    hook.Config
		want []string // none for valid
	}{
		"https slack":        {hook.Config{URL: slackURL}, nil},
		"https teams":        {hook.Config{URL: teamsURL}, nil},
		"loopback slack":     {hook.Config{URL: "http://127.0.0.1:8080" + hooktest.SlackPath, Timeout: time.Second, CentralURL: hooktest.Central}, nil},
		"loopback teams":     {hook.Config{URL: "http://127.0.0.1:8080" + hooktest.TeamsPath + hooktest.TeamsQuery, Timeout: time.Second, CentralURL: hooktest.Central}, nil},
		"localhost":          {hook.Config{URL: "http://localhost" + hooktest.SlackPath}, nil},
		"ipv6":               {hook.Config{URL: "http://[::1]:8080" + hooktest.TeamsPath + hooktest.TeamsQuery}, nil},
		"empty":              {hook.Config{}, []string{"url: not set", urlHint}},
		"plain http slack":   {hook.Config{URL: "http://hooks.slack.com" + hooktest.SlackPath}, []string{`url: "http://hooks.slack.com/…" uses plain http`}},
		"plain http teams":   {hook.Config{URL: "http://prod-12.westeurope.logic.azure.com" + hooktest.TeamsPath + hooktest.TeamsQuery}, []string{`url: "http://prod-12.westeurope.logic.azure.com/…" uses plain http`}},
		"not a URL slack":    {hook.Config{URL: "hooks.slack.com" + hooktest.SlackPath}, []string{"url: not a URL"}},
		"not a URL teams":    {hook.Config{URL: "prod-12.westeurope.logic.azure.com" + hooktest.TeamsPath + hooktest.TeamsQuery}, []string{"url: not a URL"}},
		"scheme":             {hook.Config{URL: "ftp://hooks.slack.com" + hooktest.SlackPath}, []string{`url: "ftp://hooks.slack.com/…" is not an https URL`}},
		"garbage slack":      {hook.Config{URL: slackHost + "/%zz/SECRETtoken0123456789abc"}, []string{"url: not a URL"}},
		"garbage teams":      {hook.Config{URL: teamsHost + "/%zz" + hooktest.TeamsQuery}, []string{"url: not a URL"}},
		"central script":     {hook.Config{URL: slackURL, CentralURL: "javascript:alert(1)"}, []string{"central_url"}},
		"central no scheme":  {hook.Config{URL: teamsURL, CentralURL: "central.sophos.com"}, []string{"central_url"}},
		"timeout slack":      {hook.Config{URL: slackURL, Timeout: -time.Second}, []string{"timeout"}},
		"timeout teams":      {hook.Config{URL: teamsURL, Timeout: -time.Second}, []string{"timeout"}},
		"two problems slack": {hook.Config{URL: "http://example.com" + hooktest.SlackPath, Timeout: -1}, []string{"url", "timeout"}},
		"two problems teams": {hook.Config{URL: "http://example.com" + hooktest.TeamsPath + hooktest.TeamsQuery, Timeout: -1}, []string{"url", "timeout"}},
	} {
		err := tt.c.Validate(channel())
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate accepted an invalid config, want %q", name, tt.want)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: Validate = %v, want %q", name, err, want)
			}
		}
		for _, fe := range notify.FieldErrors(err) {
			if fe.Key == "" {
				t.Errorf("%s: Validate = %v, want every problem to name its key", name, err)
			}
		}
		checkRedacted(t, err)
		if _, nerr := hook.New(channel(), tt.c, nil); nerr == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}
