package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/urlpolicy"
	"github.com/spf13/cobra"
)

// defaultHealthURL is what `puawatch health` asks without --url and
// PUAWATCH_LISTEN: the daemon's default address.
const defaultHealthURL = "http://127.0.0.1:9787/healthz"

// healthURL is the URL `puawatch health` asks without --url: /healthz
// on the port of listen (PUAWATCH_LISTEN), at loopback when listen names
// no host or a wildcard one (0.0.0.0, ::), else at its host.
func healthURL(listen string) string {
	host, port, err := net.SplitHostPort(strings.TrimSpace(listen))
	if err != nil || port == "" {
		return defaultHealthURL
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}

func newHealthCmd(e *env) *cobra.Command {
	var target string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "health",
		Short: "Ask a running daemon's /healthz; exit 0 when it answers 2xx, 1 otherwise",
		Long: `Send GET to the daemon's health URL and exit 0 when it answers with a
2xx status, 1 when it answers anything else, cannot be reached or does
not answer within --timeout. It is the container's HEALTHCHECK, since a
distroless image has no curl or wget.

Without --url it asks /healthz on PUAWATCH_LISTEN's port at 127.0.0.1
(default ` + defaultHealthURL + `). When PUAWATCH_WEB_TOKEN is
set and the URL's host is a loopback address, the token is sent as a
bearer token; it is never sent to another host.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				target = healthURL(e.getenv("PUAWATCH_LISTEN"))
			}
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--url %q is not an http or https URL: write http://127.0.0.1:9787/healthz", urlpolicy.RedactURL(target))
			}
			if timeout <= 0 {
				return usagef("--timeout must be more than 0, not %s", timeout)
			}
			return checkHealth(cmd.Context(), e, u, timeout)
		},
	}
	c.Flags().StringVar(&target, "url", "", "the health URL (default: /healthz on PUAWATCH_LISTEN's port at 127.0.0.1, else "+defaultHealthURL+")")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return c
}

// checkHealth sends GET u and says what came back.
func checkHealth(ctx context.Context, e *env, u *url.URL, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The path is shown (it is /healthz, not a secret); user info and a
	// query are not.
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if u.RawQuery != "" {
		shown += "?…"
	}
	req, err := healthRequest(ctx, u, e.getenv("PUAWATCH_WEB_TOKEN"))
	if err != nil {
		return usagef("--url %q: %v", shown, err)
	}
	client := &http.Client{
		// No proxy from the environment: the daemon is local.
		Transport: &http.Transport{Proxy: nil},
		// A health URL that redirects is not healthy: say where it went.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("health: %s did not answer within %s", shown, timeout)
		}
		return fmt.Errorf("health: %s cannot be reached: %v", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	text := strings.TrimSpace(plaintext.Clean(string(body)))
	if resp.StatusCode/100 != 2 {
		if text != "" {
			text = ": " + text
		}
		return fmt.Errorf("health: %s answered %s%s", shown, resp.Status, text)
	}
	fmt.Fprintf(e.stdout, "%s answered %s\n", shown, resp.Status)
	return nil
}

// healthRequest is the GET of u, with token as a bearer token when it is
// set and u's host is a loopback address.
func healthRequest(ctx context.Context, u *url.URL, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if tok := strings.TrimSpace(token); tok != "" && urlpolicy.Loopback(u.Hostname()) {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// unwrapURLError drops *url.Error's "Get "URL": " prefix, which the
// message names already.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
