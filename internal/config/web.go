package config

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/web/access"
)

// DefaultListen is web.listen's default: the dashboard, /healthz, /readyz
// and /metrics on this machine only (not 9090, Prometheus's own port).
const DefaultListen = "127.0.0.1:9787"

// MinWebToken is the shortest web.auth.token accepted.
const MinWebToken = 16

// Web is the daemon's HTTP server: the dashboard, /healthz, /readyz and
// /metrics.
type Web struct {
	// Listen is the server's address (host:port); "" turns it off. Bound
	// to anything but a loopback address it needs Auth (Validate).
	Listen string  `yaml:"listen"`
	Auth   WebAuth `yaml:"auth"`
}

// WebAuth is who may use the server. Empty: anyone who reaches it, which
// Validate allows on a loopback address only.
type WebAuth struct {
	// Token is a bearer token (Authorization: Bearer <token>), for
	// Prometheus and scripts. Also PUAWATCH_WEB_TOKEN or web_token in the
	// stored credentials.
	Token secret.Secret `yaml:"token"`
	// Users are basic-auth users: name → bcrypt hash of the password
	// (htpasswd -nbB, or puawatch's own hash), for people with a browser.
	Users map[string]secret.Secret `yaml:"users"`
}

// Enabled reports whether any authentication is configured.
func (a WebAuth) Enabled() bool { return !a.Token.Empty() || len(a.Users) > 0 }

// UserHashes are the users with their bcrypt hashes in plain text, for
// the access middleware.
func (a WebAuth) UserHashes() map[string]string {
	if len(a.Users) == 0 {
		return nil
	}
	out := make(map[string]string, len(a.Users))
	for name, h := range a.Users {
		out[name] = h.Reveal()
	}
	return out
}

// validateWeb checks the web section: the address, the token, every
// user's hash, and that a server reachable from other machines has
// authentication.
func (c Config) validateWeb(ps *problems) {
	w := c.Web
	if w.Listen != "" {
		host, port, err := net.SplitHostPort(w.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			ps.add("web.listen", "%q is not host:port: write e.g. %s, or \"\" to turn the server off", w.Listen, DefaultListen)
		} else if !access.LoopbackListen(w.Listen) && !w.Auth.Enabled() {
			where := "every interface"
			if host != "" && host != "0.0.0.0" && host != "::" {
				where = host
			}
			ps.add("web.listen", "%q listens on %s, which other machines reach, and web.auth is not set: "+
				"set web.auth.token (PUAWATCH_WEB_TOKEN) or web.auth.users (name: bcrypt hash), or listen on %s", w.Listen, where, DefaultListen)
		}
	}
	if t := w.Auth.Token.Reveal(); t != "" {
		switch {
		case len(t) < MinWebToken:
			ps.add("web.auth.token", "shorter than %d characters: make one with `openssl rand -hex 32`", MinWebToken)
		case strings.TrimSpace(t) != t || strings.ContainsAny(t, "\r\n\t "):
			ps.add("web.auth.token", "holds white space: write the token as one word, e.g. from `openssl rand -hex 32`")
		}
	}
	names := make([]string, 0, len(w.Auth.Users))
	for name := range w.Auth.Users {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := "web.auth.users." + name
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, ":\r\n") {
			ps.add("web.auth.users", "%q is not a user name: a name is not empty and holds no colon", name)
			continue
		}
		// The hash is not shown: it is redacted like a secret.
		if _, err := bcrypt.Cost([]byte(w.Auth.Users[name].Reveal())); err != nil {
			ps.add(p, "not a bcrypt hash (%v): write the hash, not the password, e.g. from `htpasswd -nbB %s PASSWORD` (the part after the colon)", err, ShellQuote(name))
		}
	}
}

// webEnvToken is PUAWATCH_WEB_TOKEN's entry in the environment contract.
func webEnvToken() envVar {
	return envVar{"PUAWATCH_WEB_TOKEN", "web.auth.token", func(c *Config, v string) error {
		c.Web.Auth.Token = secret.Secret(v)
		return nil
	}}
}

// webTokenHeld names web.auth.token among the secrets a configuration
// file holds, so that loadFile requires the file to be private.
func (c Config) webTokenHeld(set map[string]bool) []string {
	if set["web.auth.token"] && !c.Web.Auth.Token.Empty() {
		return []string{"web.auth.token"}
	}
	return nil
}
