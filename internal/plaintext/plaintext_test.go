package plaintext

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"PsExec.exe":                "PsExec.exe",
		"C:\\Program Files\\x  y":   "C:\\Program Files\\x  y",
		"a\r\nb":                    "a  b",
		"a\tb\x00c":                 "a b c",
		"\x1b[31mred\x1b[0m":        " [31mred [0m",
		"a\x7fb":                    "a b",
		"a\u0085b\u009b31m":         "a b 31m",
		"line\u2028sep\u2029para":   "line sep para",
		"abc\u202egnp.exe":          "abcgnp.exe",
		"zero\u200bwidth\ufeff":     "zerowidth",
		"bad\xffutf8":               "bad\ufffdutf8",
		"ünïcödé 日本 🙂":              "ünïcödé 日本 🙂",
		"  spaces kept at the end ": "  spaces kept at the end ",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}
