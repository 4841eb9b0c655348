package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2-very-secret")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(struct{ S Secret }{s})
	txt, _ := s.MarshalText()
	for name, out := range map[string]string{
		//lint:ignore S1025 the formatting verbs are what is tested
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%+v": fmt.Sprintf("%+v", struct{ S Secret }{s}),
		"%#v": fmt.Sprintf("%#v", s), "%q": fmt.Sprintf("%q", s), "json": string(j), "slog": logs.String(), "text": string(txt),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s does not say redacted: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-very-secret" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	var back Secret
	if err := back.UnmarshalText([]byte("abc")); err != nil || back.Reveal() != "abc" {
		t.Errorf("UnmarshalText: %v %q", err, back.Reveal())
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		s       string
		secrets []string
		want    string
	}{
		{"token abc123 and abc123", []string{"abc123"}, "token [redacted] and [redacted]"},
		{"nothing here", []string{"abc123", ""}, "nothing here"},
		{"x", []string{""}, "x"},
		// A secret of one character is hidden too.
		{"pin 7 refused", []string{"7"}, "pin [redacted] refused"},
		// The longer secret first, whatever the order given.
		{"path /hooks/tok-1-REST", []string{"tok-1", "/hooks/tok-1-REST"}, "path [redacted]"},
		{"path /hooks/tok-1-REST and tok-1", []string{"/hooks/tok-1-REST", "tok-1"}, "path [redacted] and [redacted]"},
	} {
		if got := Scrub(tc.s, tc.secrets...); got != tc.want {
			t.Errorf("Scrub(%q, %q) = %q, want %q", tc.s, tc.secrets, got, tc.want)
		}
	}
	secrets := []string{"a", "bbb", "cc"}
	Scrub("abc", secrets...)
	if secrets[0] != "a" || secrets[1] != "bbb" {
		t.Errorf("Scrub reordered its argument: %q", secrets)
	}
}

type classErr struct{ msg string }

func (e *classErr) Error() string { return e.msg }

func TestRedactError(t *testing.T) {
	base := &classErr{"login pw=hunter22 refused"}
	err := RedactError(fmt.Errorf("send: %w", base), "hunter22")
	if err.Error() != "send: login pw=[redacted] refused" {
		t.Errorf("Error() = %q", err)
	}
	if ce, ok := errors.AsType[*classErr](err); !ok || ce != base {
		t.Errorf("errors.As lost the class: %v", err)
	}
	if !errors.Is(err, base) {
		t.Errorf("errors.Is lost the chain")
	}
	plain := errors.New("no secret here")
	if got := RedactError(plain, "hunter22"); got != plain {
		t.Errorf("RedactError without a match = %v, want err itself", got)
	}
	if RedactError(nil, "x") != nil {
		t.Error("RedactError(nil) != nil")
	}
}
