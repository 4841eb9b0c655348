package app

import (
	"io"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
)

// Receivers are the built receivers of a configuration.
type Receivers struct {
	// Notifiers by receiver name, as the outbox rows name them.
	Notifiers map[string]notify.Notifier
	// Mailer is the first e-mail receiver, which lag alarms go to (nil
	// without e-mail).
	Mailer  *email.Notifier
	closers []io.Closer
}

// Close closes what the receivers opened (files, connections).
func (r *Receivers) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	return first
}

// BuildReceivers builds every receiver in effect (config.EffectiveReceivers)
// through its kind's Build; errors name the receiver's section. On error
// what was opened is closed. `config check` calls it too, so it reports
// exactly what `run` would refuse.
func BuildReceivers(cfg config.Config, stdout io.Writer) (*Receivers, error) {
	loc, err := cfg.Message.Location()
	if err != nil {
		return nil, &notify.FieldError{Key: "message.time_zone", Msg: err.Error()}
	}
	env := notify.Env{Location: loc, CentralURL: cfg.Message.CentralURL, Stdout: stdout}
	out := &Receivers{Notifiers: map[string]notify.Notifier{}}
	for _, r := range cfg.EffectiveReceivers() {
		if r.Config == nil {
			_ = out.Close()
			return nil, &notify.FieldError{Key: r.Section, Msg: "no receiver kind is set"}
		}
		n, err := r.Config.Build(env)
		if err != nil {
			_ = out.Close()
			return nil, notify.PrefixErrors(r.Section, err)
		}
		if c, ok := n.(io.Closer); ok {
			out.closers = append(out.closers, c)
		}
		if m, ok := n.(*email.Notifier); ok && out.Mailer == nil {
			out.Mailer = m
		}
		out.Notifiers[r.Name] = n
	}
	return out, nil
}
