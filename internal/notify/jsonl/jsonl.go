// Package jsonl is the JSON Lines notification channel: every detection of
// a message becomes one JSON object on its own line, appended to a file (or
// written to standard output), for log shippers and scripts.
//
// A line is the detection's JSON object (package detectionjson: the
// object of the webhook body's detections and of syslog's json format)
// plus "key", the message key, and "channel", the channel name. Values are
// plain text on one line (control characters replaced by spaces); <, >
// and & are written as they are, not \u-escaped.
//
// The lines of one message are written with a single Write and the file is
// fsync'd before Notify returns, so a message is either wholly on disk or
// retried. The dispatcher hands over the messages of a claim together
// (NotifyBatch): their lines are written with a single Write and synced
// once, and only then are their rows marked sent. Delivery is at least once: after a crash between the write and
// marking the rows sent, the lines appear again; consumers dedupe on
// (id, key).
package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
)

// Line is one line of output: the detection's JSON object (package
// detectionjson, the object of the webhook body and of syslog's json
// format), with the message key and the channel name.
type Line struct {
	detectionjson.Detection
	Key     string `json:"key"`     // the message key, stable across redeliveries
	Channel string `json:"channel"` // the channel name
}

// Notifier appends messages to a file or writes them to stdout. It is safe
// for concurrent use.
type Notifier struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // nil for stdout
	path   string
	dirty  bool // a failed write may have left a partial line
	closed bool
}

var _ notify.BatchNotifier = (*Notifier)(nil)

// Config is the JSONL receiver's configuration.
type Config struct {
	// Path is the file appended to, or "-" for standard output.
	Path string `yaml:"path"`
}

var _ notify.ReceiverConfig = (*Config)(nil)

// Validate checks that a path is set.
func (c Config) Validate() error {
	var ps notify.Problems
	if c.Path == "" {
		ps.Add("path", `not set: a file path, or "-" for standard output`)
	}
	return ps.Err()
}

// Build opens the file (or takes env.Stdout for "-").
func (c *Config) Build(env notify.Env) (notify.Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n, err := New(c.Path, env.Stdout)
	if err != nil {
		return nil, &notify.FieldError{Key: "path", Msg: err.Error(), Err: err}
	}
	return n, nil
}

// New opens path for appending (created with mode 0600 if missing), or
// writes to stdout when path is "-".
func New(path string, stdout io.Writer) (*Notifier, error) {
	switch path {
	case "":
		return nil, errors.New(`no path; set a file path, or "-" for standard output`)
	case "-":
		if stdout == nil {
			return nil, errors.New("path is - but there is no standard output")
		}
		return &Notifier{w: stdout, path: "-"}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// A process killed in the middle of a write leaves a partial last
	// line: the first write ends it, as after a failed write.
	dirty, err := partialLastLine(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("read the end of %s: %w", path, err)
	}
	return &Notifier{w: f, f: f, path: path, dirty: dirty}, nil
}

// partialLastLine tells whether f is not empty and does not end with a
// newline.
func partialLastLine(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 || !st.Mode().IsRegular() {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// Notify writes one line per detection of m, in one Write, and fsyncs
// the file. Errors are retryable.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	return n.NotifyBatch(ctx, []notify.Message{m})[0]
}

// NotifyBatch writes the lines of every message of ms in one Write and
// fsyncs the file once: a nil error for a message means its lines are
// on disk. A message that cannot be encoded fails alone (permanently)
// and writes nothing; a failed write or sync fails every other message
// (retryable).
func (n *Notifier) NotifyBatch(ctx context.Context, ms []notify.Message) []error {
	errs := make([]error, len(ms))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	var buf bytes.Buffer
	buf.WriteByte('\n') // for a partial line a failed write may have left; cut below when there is none
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var written []int // the messages whose lines are in buf
	for i, m := range ms {
		start := buf.Len()
		if err := encode(enc, m); err != nil {
			buf.Truncate(start) // a message that fails halfway leaves nothing behind
			errs[i] = err
			continue
		}
		written = append(written, i)
	}
	fail := func(err error) []error {
		for _, i := range written {
			errs[i] = err
		}
		return errs
	}
	if len(written) == 0 {
		return errs
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fail(fmt.Errorf("jsonl: %s: notifier is closed", n.path))
	}
	out := buf.Bytes()
	if !n.dirty {
		// End a partial line a failed write may have left, so that every
		// complete line still parses; otherwise there is none to end.
		out = out[1:]
	}
	if _, err := n.w.Write(out); err != nil {
		n.dirty = true
		return fail(fmt.Errorf("jsonl: write %s: %w", n.path, err))
	}
	n.dirty = false
	if n.f != nil {
		if err := n.f.Sync(); err != nil {
			return fail(fmt.Errorf("jsonl: sync %s: %w", n.path, err))
		}
	}
	return errs
}

// encode writes the lines of m with enc; on an error some may be
// written (the caller cuts them).
func encode(enc *json.Encoder, m notify.Message) error {
	v := render.NewView(m, render.Options{})
	key, channel := render.Clean(v.Key), render.Clean(v.Channel)
	for _, d := range detectionjson.All(v) {
		// Encode ends the line with \n.
		if err := enc.Encode(Line{Detection: d, Key: key, Channel: channel}); err != nil {
			return notify.Permanent(fmt.Errorf("jsonl: encode event %s: %w", d.ID, err))
		}
	}
	return nil
}

// Close closes the file (stdout is left open). Later Notify calls fail
// with a retryable error.
func (n *Notifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	if n.f != nil {
		return n.f.Close()
	}
	return nil
}
