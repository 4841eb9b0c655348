// Package notify turns outbox rows into messages and sends them through
// channels. A Notifier sends one Message; the Dispatcher claims due outbox
// rows, groups them into messages, sends, and marks rows sent only after the
// channel accepted them, retrying with exponential backoff and jitter and
// moving permanent failures to the dead-letter state with the reason.
//
// # Receivers
//
// A receiver kind (email, slack, teams, webhook, syslog, jsonl) is one
// package below this one. Its configuration struct is what its YAML
// section decodes into, a ReceiverConfig: Validate reports each problem as
// a FieldError naming its key, and Build makes the Notifier. Package kinds
// holds the one table of kinds; the configuration, `config check` and
// `run` all go through it, so they accept and refuse the same sections.
//
// Adding a receiver: write the package (config struct with yaml tags,
// Validate, Build, the Notifier, tests and golden files), add its line to
// kinds.All, an entry to internal/config/testdata/example.yaml and its
// lines to the README. A test in internal/cli fails until the example and
// an invalid case for it exist.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// Message is what a channel sends: one detection, or a digest of several
// of one tenant.
type Message struct {
	// Key is stable across redeliveries of the same message: the e-mail
	// Message-ID and a webhook's idempotency key are made from it.
	Key        string
	Channel    string
	TenantID   string
	TenantName string
	Digest     bool
	Detections []store.Detection
}

// Notifier sends messages on one channel.
type Notifier interface {
	// Notify sends m. A nil error means the channel accepted it. Errors
	// wrapped with Permanent are not retried; RetryAfter says when to try
	// again; any other error is retried with backoff.
	Notify(ctx context.Context, m Message) error
}

// BatchNotifier is a Notifier that takes several messages at once, more
// cheaply than one by one (a file written and synced once for all). The
// dispatcher hands it the messages of one claim for its channel together
// and marks the rows of those it accepted sent in one store call.
type BatchNotifier interface {
	Notifier
	// NotifyBatch sends ms, each as Notify would, and returns one error
	// per message, in order: nil means the channel accepted that message
	// (for a file: its bytes are synced). Each message keeps its key and
	// its detections; a failure of one need not fail the others.
	NotifyBatch(ctx context.Context, ms []Message) []error
}

// PermanentError is a failure that retrying will not mend (rejected
// credentials, rejected recipients, a 4xx other than 408 and 429).
type PermanentError struct{ Err error }

// Error returns the text of the wrapped error.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError asks to try again no sooner than After.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// Error returns the wrapped error's text and the delay.
func (e *RetryAfterError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.Err, e.After) }

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }
