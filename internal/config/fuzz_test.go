package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// leafErrors flattens the trees errors.Join builds.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzDecodeYAML feeds arbitrary bytes to the configuration decoder.
// Properties: it never panics; decoding the same bytes twice gives the
// same configuration, the same set keys and the same errors; and every
// error names the file and the line ("file:N: ..."), or at least the file
// when the parser gave no position. The seeds in
// testdata/fuzz/FuzzDecodeYAML are a real configuration and hostile ones
// (anchors and aliases, merge keys, tabs, a second document, deep
// nesting, wrong types, block scalars, invalid UTF-8).
func FuzzDecodeYAML(f *testing.F) {
	const file = "fuzz.yaml"
	lineRef := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:[1-9][0-9]*: \S`)
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, c2 := Default(), Default()
		set1, err1 := decodeYAML(file, data, &c1)
		set2, err2 := decodeYAML(file, data, &c2)
		if errText(err1) != errText(err2) || !maps.Equal(set1, set2) || !reflect.DeepEqual(c1, c2) {
			t.Fatalf("decoding twice differs:\n%v\n%v", err1, err2)
		}
		for _, e := range leafErrors(err1) {
			var le *lineError
			if !errors.As(e, &le) || le.file != file {
				t.Fatalf("error %q (%T) does not name the file", e, e)
			}
			if le.line == 0 && !strings.HasPrefix(le.msg, "invalid YAML") {
				t.Fatalf("error %q names no line", e)
			}
			if le.line > 0 && !lineRef.MatchString(e.Error()) {
				t.Fatalf("error %q does not start with %s:line:", e, file)
			}
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// secretSlot is a key that holds a secret, and how a value is written
// into it.
type secretSlot struct {
	name string
	yaml func(value string) string // the YAML that sets the key to value
	// value is what the key is set to, given the secret and the fuzzed
	// rest (a URL's host, port and query).
	value func(secret, rest string) string
}

func secretSlots() []secretSlot {
	self := func(s, _ string) string { return s }
	under := func(section, key string) func(string) string {
		return func(v string) string { return section + ":\n  " + key + ": " + v + "\n" }
	}
	receiver := func(kind, key string) func(string) string {
		return func(v string) string {
			return "receivers:\n  - name: r\n    " + kind + ":\n      " + key + ": " + v + "\n"
		}
	}
	return []secretSlot{
		{"sophos.client_secret", under("sophos", "client_secret"), self},
		{"email.smtp_url password", under("email", "smtp_url"), func(s, rest string) string { return "smtp://user:" + s + "@" + rest }},
		{"store.db password", under("store", "db"), func(s, rest string) string { return "postgres://puawatch:" + s + "@" + rest }},
		{"webhook url", receiver("webhook", "url"), func(s, rest string) string { return "https://hooks.example.com/" + s + rest }},
		{"webhook secret", receiver("webhook", "secret"), self},
		{"webhook header value", func(v string) string {
			return "receivers:\n  - name: r\n    webhook:\n      url: https://hooks.example.com/x\n      headers:\n        Authorization: " + v + "\n"
		}, self},
		{"slack url", receiver("slack", "url"), func(s, rest string) string { return "https://hooks.slack.com/services/" + s + rest }},
		{"teams url", receiver("teams", "url"), func(s, rest string) string { return "https://prod-00.westeurope.logic.azure.com/workflows/" + s + rest }},
		{"email receiver smtp_url password", receiver("email", "smtp_url"), func(s, rest string) string { return "smtp://user:" + s + "@" + rest }},
	}
}

// yamlScalar writes v as a YAML scalar in one of four styles: plain,
// double-quoted, single-quoted or a literal block.
func yamlScalar(v string, style int) string {
	switch style % 4 {
	case 0:
		return v
	case 1:
		return strconv.Quote(v)
	case 2:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return "|-\n" + strings.Repeat(" ", 12) + v
}

// FuzzLoadSecrets loads, with Load from a file of mode 0600, a
// configuration that sets one secret key (the client secret, the password
// of an SMTP or database URL, a webhook URL, secret or header value, a
// Slack or Teams URL) to a value holding a fuzzed secret, written in a
// fuzzed YAML style, next to fuzzed YAML. Properties: Load never panics;
// no error shows 8 or more consecutive characters of the secret (unless
// they come from elsewhere: the same file with the secret replaced by
// other letters gives them too); and every error names a file:line or a
// key (a YAML path or an environment variable) first.
func FuzzLoadSecrets(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "puawatch.yaml")
	named := regexp.MustCompile(`^(?:` + regexp.QuoteMeta(path) + `[: ]|config: |PUAWATCH_[A-Z_]+ |[a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z][a-z0-9_]*(?:\[\d+\])?)*(?: \(PUAWATCH_[A-Z_]+\))?[: ])`)
	slots := secretSlots()
	f.Fuzz(func(t *testing.T, doc string, slot, style uint8, sec, rest string) {
		if len(sec) < 8 || len(sec) > 256 || len(doc) > 4096 || strings.ContainsAny(sec+rest, "\r\n") {
			return
		}
		// Keys naming files (templates, CA files, the secret file) could
		// make Load read a device that never ends.
		if s := doc + rest; strings.Contains(s, "/dev") || strings.Contains(s, "/proc") || strings.Contains(s, "/sys") {
			return
		}
		sl := slots[int(slot)%len(slots)]
		load := func(secret string) error {
			content := sl.yaml(yamlScalar(sl.value(secret, rest), int(style))) + doc
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(LoadOptions{Path: path, Env: noEnv})
			return err
		}
		err := load(sec)
		for _, e := range leafErrors(err) {
			if !named.MatchString(e.Error()) {
				t.Fatalf("error names neither file:line nor key: %q", e)
			}
		}
		if err == nil {
			return
		}
		msg := err.Error()
		leaked := leakedPart(msg, sec)
		if leaked == "" {
			return
		}
		// The same characters in an error about the same file with
		// another secret of the same shape are not the secret's.
		if strings.Contains(doc+rest, leaked) || strings.Contains(errText(load(canary(sec))), leaked) {
			return
		}
		t.Fatalf("%s: the error shows %q of the secret %q:\n%s", sl.name, leaked, sec, msg)
	})
}

// leakedPart is the first run of 8 characters of secret found in msg, or "".
func leakedPart(msg, secret string) string {
	const n = 8
	for i := 0; i+n <= len(secret); i++ {
		if w := secret[i : i+n]; strings.Contains(msg, w) {
			return w
		}
	}
	return ""
}

// canary is s with every letter and digit changed to another of its
// kind: the same YAML and URL syntax, other text.
func canary(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		case r >= '0' && r <= '9':
			return '0' + (r-'0'+5)%10
		}
		return r
	}, s)
}
