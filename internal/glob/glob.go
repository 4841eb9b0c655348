// Package glob matches names against the patterns users write in the
// configuration: path.Match syntax (* ? [a-z]) without regard to case,
// where * also spans "/" (threat names such as "PUA/CoinMiner.Generic" and
// tenant names contain it).
package glob

import (
	"path"
	"strings"
)

// slash stands in for "/" so that path.Match treats it as an ordinary
// character.
const slash = "\u2215"

func fold(s string) string { return strings.ReplaceAll(strings.ToLower(s), "/", slash) }

// Match reports whether value matches pattern.
func Match(pattern, value string) bool {
	ok, _ := path.Match(fold(pattern), fold(value))
	return ok
}

// Valid reports whether pattern is well formed (not empty, brackets
// closed).
func Valid(pattern string) bool {
	if strings.TrimSpace(pattern) == "" {
		return false
	}
	_, err := path.Match(fold(pattern), "")
	return err == nil
}
