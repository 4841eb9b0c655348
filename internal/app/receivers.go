package app

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/notify/jsonl"
	"github.com/puawatch/puawatch/internal/notify/slack"
	"github.com/puawatch/puawatch/internal/notify/syslog"
	"github.com/puawatch/puawatch/internal/notify/teams"
	"github.com/puawatch/puawatch/internal/notify/webhook"
)

// BuildReceivers makes a channel per receiver: the implicit "email" and
// "jsonl" of the email and jsonl sections, then the receivers section. It
// returns the closers of what it opened (also on error), and the e-mail
// notifier that lag alarms go to (nil without e-mail).
func BuildReceivers(cfg config.Config, stdout io.Writer) (map[string]notify.Channel, []func() error, *email.Notifier, error) {
	channels := map[string]notify.Channel{}
	var closers []func() error
	var mailer *email.Notifier
	loc := time.UTC
	if cfg.Email.TimeZone != "" {
		l, err := time.LoadLocation(cfg.Email.TimeZone)
		if err != nil {
			return nil, closers, nil, fmt.Errorf("email.time_zone: %w", err)
		}
		loc = l
	}
	central := cfg.Email.CentralURL
	mail := func(field string, smtpURL, from string, to []string, caFile, tmpl string) (*email.Notifier, error) {
		ec, err := email.ParseURL(smtpURL)
		if err != nil {
			return nil, fmt.Errorf("%s.smtp_url: %w", field, err)
		}
		ec.From, ec.To, ec.Location, ec.Template, ec.CentralURL = from, to, loc, tmpl, central
		if caFile != "" {
			if ec.RootCAs, err = loadCAs(caFile); err != nil {
				return nil, fmt.Errorf("%s.ca_file: %w", field, err)
			}
		}
		n, err := email.New(ec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return n, nil
	}
	if cfg.Email.Enabled() {
		n, err := mail("email", cfg.Email.SMTPURL.Reveal(), cfg.Email.From, cfg.Email.To, cfg.Email.CAFile, cfg.Email.Template)
		if err != nil {
			return nil, closers, nil, err
		}
		mailer = n
		channels["email"] = notify.Channel{Notifier: n}
	}
	if cfg.JSONL.Enabled() {
		n, err := jsonl.New(cfg.JSONL.Path, stdout)
		if err != nil {
			return nil, closers, nil, fmt.Errorf("jsonl.path: %w", err)
		}
		closers = append(closers, n.Close)
		channels["jsonl"] = notify.Channel{Notifier: n}
	}
	for i, r := range cfg.Receivers {
		field := fmt.Sprintf("receivers[%d] (%s)", i, r.Name)
		var n notify.Notifier
		var err error
		switch {
		case r.Email != nil:
			u, from := r.Email.SMTPURL, r.Email.From
			if u.Empty() {
				u = cfg.Email.SMTPURL
			}
			if from == "" {
				from = cfg.Email.From
			}
			var en *email.Notifier
			en, err = mail(field+".email", u.Reveal(), from, r.Email.To, r.Email.CAFile, r.Email.Template)
			if en != nil {
				n = en
				if mailer == nil {
					mailer = en
				}
			}
		case r.Slack != nil:
			n, err = slack.New(slack.Config{URL: r.Slack.URL, Template: r.Slack.Template, Location: loc, CentralURL: central}, nil)
		case r.Teams != nil:
			n, err = teams.New(teams.Config{URL: r.Teams.URL, Template: r.Teams.Template, Location: loc, CentralURL: central}, nil)
		case r.Webhook != nil:
			n, err = webhook.New(webhook.Config{URL: r.Webhook.URL, Secret: r.Webhook.Secret, Headers: r.Webhook.Headers, Location: loc, CentralURL: central}, (*http.Client)(nil))
		case r.Syslog != nil:
			sc := syslog.Config{Network: r.Syslog.Network, Address: r.Syslog.Address, Format: r.Syslog.Format, Location: loc, CentralURL: central}
			if r.Syslog.Facility != nil {
				sc.Facility = *r.Syslog.Facility
			}
			if r.Syslog.CAFile != "" {
				var pool *x509.CertPool
				if pool, err = loadCAs(r.Syslog.CAFile); err != nil {
					return nil, closers, nil, fmt.Errorf("%s.syslog.ca_file: %w", field, err)
				}
				sc.RootCAs = pool
			}
			var sn *syslog.Notifier
			if sn, err = syslog.New(sc); err == nil {
				closers = append(closers, sn.Close)
				n = sn
			}
		case r.JSONL != nil:
			var jn *jsonl.Notifier
			if jn, err = jsonl.New(r.JSONL.Path, stdout); err == nil {
				closers = append(closers, jn.Close)
				n = jn
			}
		}
		if err != nil {
			return nil, closers, nil, fmt.Errorf("%s: %w", field, err)
		}
		if n == nil {
			return nil, closers, nil, fmt.Errorf("%s: set exactly one of email, slack, teams, webhook, syslog, jsonl", field)
		}
		channels[r.Name] = notify.Channel{Notifier: n}
	}
	return channels, closers, mailer, nil
}
