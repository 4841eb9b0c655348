// Package kinds is the table of receiver kinds: the one place that names
// them all. Each kind's package owns its YAML configuration type (a
// notify.ReceiverConfig: its struct is its config, Validate checks it,
// Build constructs its Notifier); the configuration decodes a receiver's
// section into the type this table gives for its key.
//
// Adding a receiver kind: write its package under internal/notify (its
// config struct with yaml tags, Validate returning notify.FieldErrors,
// Build, its Notifier, tests and golden files), add one line to All, an
// entry to internal/config/testdata/example.yaml and a line to the
// README. TestEveryKindHasExampleAndValidation fails until the example
// and an invalid case exist.
package kinds

import (
	"slices"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/notify/jsonl"
	"github.com/puawatch/puawatch/internal/notify/slack"
	"github.com/puawatch/puawatch/internal/notify/syslog"
	"github.com/puawatch/puawatch/internal/notify/teams"
	"github.com/puawatch/puawatch/internal/notify/webhook"
)

// Kind is one receiver kind: its YAML key and a fresh, empty
// configuration to decode its section into.
type Kind struct {
	Name string
	New  func() notify.ReceiverConfig
}

// All lists the receiver kinds, in the order messages name them.
func All() []Kind {
	return []Kind{
		{"email", func() notify.ReceiverConfig { return new(email.Config) }},
		{"slack", func() notify.ReceiverConfig { return new(slack.Config) }},
		{"teams", func() notify.ReceiverConfig { return new(teams.Config) }},
		{"webhook", func() notify.ReceiverConfig { return new(webhook.Config) }},
		{"syslog", func() notify.ReceiverConfig { return new(syslog.Config) }},
		{"jsonl", func() notify.ReceiverConfig { return new(jsonl.Config) }},
	}
}

// Lookup finds the kind named name.
func Lookup(name string) (Kind, bool) {
	all := All()
	i := slices.IndexFunc(all, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return all[i], true
}

// Names lists the kinds' names.
func Names() []string {
	var out []string
	for _, k := range All() {
		out = append(out, k.Name)
	}
	return out
}
