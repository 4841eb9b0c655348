package secret

import (
	"bytes"
	"encoding/json"
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
