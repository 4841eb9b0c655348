package teams

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/secret"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config configures the Teams channel.
type Config struct {
	// URL is the Workflows webhook URL (the HTTP POST URL of the flow's
	// trigger). It is a secret: its sig parameter is the credential. It
	// must be https, or http to a loopback host (a local relay or a test
	// server).
	URL secret.Secret
	// Template is the path of a Go text/template file whose text replaces
	// the default intro and FactSets (see the package documentation).
	// "" uses the default rendering.
	Template string
	// Location shows times in this zone too, besides UTC (nil: UTC only).
	Location *time.Location
	// CentralURL is the Sophos Central address the card's action opens
	// ("": https://central.sophos.com).
	CentralURL string
	// Timeout bounds one request (0: DefaultTimeout).
	Timeout time.Duration
}

// timeout returns the effective timeout.
func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Validate checks c and names the field at fault: url (set, a URL, https
// or http to loopback), template (readable, parses, renders a sample),
// central_url (an http or https URL) and timeout (not negative). Errors
// never show the webhook URL beyond its scheme and host.
func (c Config) Validate() error {
	var errs []error
	if c.URL.Empty() {
		errs = append(errs, errors.New(`teams: url: no webhook URL is set; set the URL of the Workflows webhook (the HTTP POST URL of the flow's trigger "When a Teams webhook request is received")`))
	} else if err := notify.CheckURL("url", c.URL.Reveal()); err != nil {
		errs = append(errs, fmt.Errorf("teams: %w", err))
	}
	if c.Template != "" {
		if _, err := loadChecked(c.Template); err != nil {
			errs = append(errs, err)
		}
	}
	if c.CentralURL != "" {
		if err := checkCentralURL(c.CentralURL); err != nil {
			errs = append(errs, fmt.Errorf("teams: central_url: %w", err))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("teams: timeout: %s is negative; use a positive duration, or 0 for %s", c.Timeout, DefaultTimeout))
	}
	return errors.Join(errs...)
}

// checkCentralURL accepts an absolute http or https URL.
func checkCentralURL(raw string) error {
	if !webURL(raw) {
		return fmt.Errorf("%q is not an http or https URL; write https://central.sophos.com", raw)
	}
	return nil
}

// webURL reports whether raw is an absolute http or https URL with a host.
func webURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
