package email

import (
	"context"
	"fmt"

	"github.com/wneessen/go-mail"
)

// Alarm mails an operational alarm (a tenant lagging behind its feed) to
// the recipients: a plain-text mail whose subject starts with
// "[puawatch] ALARM:". Errors are classified as Notify's are.
func (n *Notifier) Alarm(ctx context.Context, subject, body string) error {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(n.c.From); err != nil {
		return fmt.Errorf("email: from %q: %w", n.c.From, err)
	}
	if err := msg.To(n.c.To...); err != nil {
		return fmt.Errorf("email: to %q: %w", n.c.To, err)
	}
	msg.SetDateWithValue(n.now())
	msg.Subject(headerValue("[puawatch] ALARM: "+subject, maxSubject))
	msg.SetUserAgent("puawatch")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, body)
	if err := n.send(ctx, msg); err != nil {
		return fmt.Errorf("email: alarm: %w", err)
	}
	return nil
}
