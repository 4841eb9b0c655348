package central

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// baseURL checks a configured base URL (auth_url, api_url) and returns it
// without trailing slashes. It must pass urlpolicy.CheckBase: https, or
// http for a loopback host, without user info, a query or a fragment.
func baseURL(field, raw, example string) (string, *url.URL, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil, fmt.Errorf("central: %s is not set: set it to %s", field, example)
	}
	u, err := urlpolicy.CheckBase(strings.TrimRight(s, "/"))
	if err != nil {
		return "", nil, fmt.Errorf("central: %s: %w", field, err)
	}
	return u.String(), u, nil
}

// effectivePort is u's port, or the scheme's default one.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// parentDomain is the domain whose hosts may serve tenants: host less its
// first label (api.central.sophos.com → central.sophos.com), unless that
// parent is shorter than host's registrable domain (its eTLD+1 on the
// public suffix list, package golang.org/x/net/publicsuffix): a parent
// such as co.uk or eu-west-1.compute.amazonaws.com is anybody's, so then
// it is host itself (api.co.uk allows api.co.uk and its subdomains, never
// evil.co.uk). An IP address, a single label or a host the list knows no
// registrable domain for is host itself too.
func parentDomain(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(host) != nil {
		return host
	}
	_, parent, ok := strings.Cut(host, ".")
	if !ok {
		return host
	}
	registrable, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil || len(parent) < len(registrable) {
		return host
	}
	return parent
}

// CheckAPIHost reports whether u, an apiHost or dataRegion URL from the
// API, may receive the bearer token. It may when it is an https URL on the
// configured API URL's port whose host is the API URL's parent domain or
// below it (api.central.sophos.com allows api-eu01.central.sophos.com;
// see parentDomain for a parent that is a public suffix), or,
// when the configured API URL's host is loopback, any loopback URL (http or
// https). It must be a bare scheme://host[:port], without user info, path,
// query or fragment; one trailing slash is accepted.
func (c *Client) CheckAPIHost(u string) error {
	if err := c.checkAPIHost(u); err != nil {
		return fmt.Errorf("central: %w", err)
	}
	return nil
}

// checkAPIHost is CheckAPIHost without the "central: " prefix, for the
// client's own errors, which name the package and the operation first.
func (c *Client) checkAPIHost(u string) error {
	refuse := func(why string) error {
		return fmt.Errorf("apiHost %q refused: %s; the bearer token is only ever sent to hosts under %s (api_url %s), never elsewhere", u, why, c.allowedDomain(), c.apiURL)
	}
	if u == "" {
		return refuse("it is empty")
	}
	pu, err := url.Parse(strings.TrimSuffix(u, "/"))
	if err != nil {
		return refuse("it is not a URL")
	}
	host := strings.TrimSuffix(strings.ToLower(pu.Hostname()), ".")
	switch {
	case host == "":
		return refuse("it has no host")
	case pu.User != nil:
		return refuse("it carries user info")
	case pu.Path != "" || pu.RawQuery != "" || pu.Fragment != "" || pu.ForceQuery || pu.Opaque != "":
		return refuse("it is not a bare scheme://host[:port]")
	}
	scheme := strings.ToLower(pu.Scheme)
	if c.loopback {
		if (scheme == "http" || scheme == "https") && urlpolicy.Loopback(host) {
			return nil
		}
		return refuse("the API URL is loopback, so only loopback hosts are allowed")
	}
	if scheme != "https" {
		return refuse("it is not https")
	}
	domain := c.allowedDomain()
	if host != domain && !strings.HasSuffix(host, "."+domain) {
		return refuse("its host is not under " + domain)
	}
	if effectivePort(pu) != effectivePort(c.apiU) {
		return refuse("its port differs from the API URL's")
	}
	return nil
}

// allowedDomain is the domain apiHosts must be under.
func (c *Client) allowedDomain() string {
	if c.loopback {
		return "loopback"
	}
	return parentDomain(c.apiU.Hostname())
}
