package hook

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/notify"
)

// FuzzRedact checks Redact on any webhook URL and any answer that echoes
// it: the error keeps its class (notify.IsPermanent, errors.Is), and no
// piece of the text between two "[redacted]" holds the URL, its path
// (but "/") or its query. The seeds in testdata/fuzz/FuzzRedact are
// Slack, Teams and Power Automate URLs, short and encoded paths, and
// answers with CR/LF, NUL, invalid UTF-8, HTML, emoji and very long text.
func FuzzRedact(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawURL, echo string) {
		base := notify.Permanent(errors.New("HTTP 403: " + echo + " " + rawURL + " " + echo))
		u, perr := url.Parse(rawURL)
		if perr == nil {
			base = notify.Permanent(errors.New("HTTP 403: " + echo + " " + rawURL + " path " + u.Path + " " + u.EscapedPath() + " query " + u.RawQuery + " " + echo))
		}
		err := Redact(base, rawURL)
		if !notify.IsPermanent(err) || !errors.Is(err, base) {
			t.Fatalf("Redact lost the class: %v", err)
		}
		hidden := []string{rawURL}
		if perr == nil {
			hidden = append(hidden, u.RawQuery)
			if len(u.Path) > 1 {
				hidden = append(hidden, u.Path, u.EscapedPath())
			}
		}
		for _, piece := range strings.Split(err.Error(), "[redacted]") {
			for _, h := range hidden {
				if h != "" && strings.Contains(piece, h) {
					t.Fatalf("Redact(%q) shows %q: %q", rawURL, h, err)
				}
			}
		}
	})
}
