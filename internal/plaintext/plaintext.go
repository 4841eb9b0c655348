// Package plaintext makes untrusted text (endpoint data, servers'
// answers) safe to show on one line of a log, a terminal or a message.
package plaintext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean returns s as plain text on one line: every control character (C0
// such as CR, LF, tab, NUL and ESC; DEL; C1 such as CSI) and every line
// or paragraph separator becomes a space, invisible formatting characters
// (Unicode Cf: direction overrides, zero-width spaces) are dropped, and
// invalid UTF-8 becomes U+FFFD. Each character is replaced on its own:
// runs are not folded and nothing is trimmed, so clean text is returned
// unchanged.
func Clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unclean) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r // strings.Map writes U+FFFD for invalid UTF-8
	}, s)
}

func unclean(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}
