package teams

import (
	"net/http"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/hook"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = hook.DefaultTimeout

// Config configures the channel: the webhook URL (a secret), an optional
// template, the second time zone, the Sophos Central link and the request
// timeout (see hook.Config).
type Config hook.Config

// Validate checks c and names the field at fault (url, template,
// central_url, timeout); errors never show the webhook URL beyond its
// scheme and host.
func (c Config) Validate() error { return hook.Config(c).Validate(channel()) }

var _ notify.ReceiverConfig = (*Config)(nil)

// Build validates c and returns its Notifier, with env's time zone and
// Sophos Central address.
func (c *Config) Build(env notify.Env) (notify.Notifier, error) {
	return New(Config(hook.Config(*c).WithEnv(env)), nil)
}

// Notifier posts messages to a Teams Workflows webhook.
type Notifier = hook.Notifier

// New validates c, loads its template and returns a Notifier that posts
// with client (nil: hook.DefaultClient).
func New(c Config, client *http.Client) (*Notifier, error) {
	return hook.New(channel(), hook.Config(c), client)
}

func channel() hook.Channel {
	return hook.Channel{Name: "teams", URLHint: "the URL of the Workflows webhook (the HTTP POST URL of the flow's trigger \"When a Teams webhook request is received\")", Render: Render, LoadTemplate: loadChecked}
}
