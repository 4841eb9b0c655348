package notify

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Env is what every receiver is built with besides its own section of the
// configuration: the settings that govern every channel's messages.
type Env struct {
	// Location shows times in this zone too, besides UTC (nil: UTC only).
	Location *time.Location
	// CentralURL is the Sophos Central address messages link to ("": the
	// default, render.DefaultCentralURL).
	CentralURL string
	// Stdout is where a receiver writing to "-" writes.
	Stdout io.Writer
}

// ReceiverConfig is one receiver kind's configuration: the struct its YAML
// section (receivers[i].<kind>) decodes into. Each kind's package owns it;
// the table in package kinds lists them.
type ReceiverConfig interface {
	// Validate reports every problem of the section, joined; each is a
	// *FieldError naming the key within the section (url, headers, ...).
	// It reads the files the section names (CA, template) but connects
	// to nothing.
	Validate() error
	// Build validates as Validate does, then returns the receiver's
	// Notifier. It does not connect or send. A Notifier that holds a
	// file or a connection is an io.Closer.
	Build(env Env) (Notifier, error)
}

// FieldError is a problem with one key of a receiver's section.
type FieldError struct {
	Key string // the key within the section ("url", "headers"); "" for the section itself
	Msg string // what is wrong and what to do; never a secret
	Err error  // the cause, when there is one (a file the system refused), for errors.As
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Error is "key: message", or the message alone for the section.
func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Problems collects a section's FieldErrors.
type Problems []error

// Add records a problem with key.
func (p *Problems) Add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Err is the problems joined, or nil.
func (p Problems) Err() error { return errors.Join(p...) }

// FieldErrors splits err (as Validate or Build return it) into its
// problems; an error that is not a FieldError becomes one for the
// section itself.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Msg: err.Error()}}
}

// PrefixErrors names each of err's problems by its full path, the
// section's path (receivers[2].webhook) joined with the key.
func PrefixErrors(section string, err error) error {
	var out []error
	for _, fe := range FieldErrors(err) {
		key := section
		if fe.Key != "" {
			key += "." + fe.Key
		}
		out = append(out, &FieldError{Key: key, Msg: fe.Msg, Err: fe.Err})
	}
	return errors.Join(out...)
}
