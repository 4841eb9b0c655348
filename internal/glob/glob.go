// Package glob is the one pattern syntax of puawatch's configuration. Every
// list of patterns a user writes is compiled and matched here:
// match.types and match.follow_up_types (event types), tenants.include
// and tenants.exclude (tenant ids and names), and the route section's
// match lists (tenant, type, severity, threat, endpoint_type).
//
// # Syntax
//
//	pattern  matches
//	*        any run of characters, or none; "/" too (threat names such
//	         as "PUA/CoinMiner.Generic" and tenant names hold it)
//	?        any one character
//	[abc]    one of the characters listed
//	[a-z]    one character from a to z (several ranges and characters may
//	         follow each other: [a-z0-9_])
//	[^a-z]   one character not in the class
//	\c       the character c itself: \* \? \[ \] \- \\
//
// Any other character matches itself. A pattern matches the whole value,
// not a part of it ("contoso*" matches "Contoso GmbH", "contoso" does not),
// so a pattern without wildcards is an exact name or id. Case is ignored
// in patterns and values alike ("*pua*detect*" matches
// "Event::Endpoint::CorePuaDetection"). Within a class, "]" and "-" are
// written \] and \- unless "-" joins the two ends of a range.
//
// An empty pattern, an unclosed "[", an empty class ("[]"), a range
// without an end ("[a-]") or running backwards ("[z-a]"), and a lone "\"
// at the end are errors: Compile says which, and where.
package glob

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern is a compiled pattern. It is immutable and safe for concurrent
// use.
type Pattern struct {
	text  string
	items []item
}

type kind uint8

const (
	literal kind = iota // r, lower case
	anyOne              // ?
	star                // *
	class               // [...]
)

type item struct {
	kind   kind
	r      rune      // literal
	neg    bool      // class: [^...]
	ranges [][2]rune // class: as written; lo == hi for a single character
}

// Error is a malformed pattern.
type Error struct {
	Pattern string
	Pos     int    // 1-based character (not byte) position of the problem; 0: the whole pattern
	Reason  string // what is wrong and how to fix it
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a valid pattern: %s", e.Pattern, e.Reason)
}

// Compile checks pattern (see the package documentation for the syntax)
// and compiles it. A malformed pattern gives an *Error.
func Compile(pattern string) (*Pattern, error) {
	fail := func(pos int, format string, args ...any) (*Pattern, error) {
		return nil, &Error{Pattern: pattern, Pos: pos, Reason: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(pattern) == "" {
		return fail(0, "it is empty and would match nothing: remove it")
	}
	if !utf8.ValidString(pattern) {
		return fail(0, "it is not valid UTF-8")
	}
	rs := []rune(pattern)
	p := &Pattern{text: pattern}
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			if n := len(p.items); n == 0 || p.items[n-1].kind != star {
				p.items = append(p.items, item{kind: star})
			}
		case '?':
			p.items = append(p.items, item{kind: anyOne})
		case '\\':
			if i+1 == len(rs) {
				return fail(i+1, `it ends in a lone \: write \\ to match a backslash`)
			}
			i++
			p.items = append(p.items, item{kind: literal, r: unicode.ToLower(rs[i])})
		case '[':
			it, next, err := parseClass(pattern, rs, i)
			if err != nil {
				return nil, err
			}
			p.items = append(p.items, it)
			i = next
		default:
			p.items = append(p.items, item{kind: literal, r: unicode.ToLower(c)})
		}
	}
	return p, nil
}

// parseClass parses the class that opens at rs[open] and returns it with
// the index of its closing ].
func parseClass(pattern string, rs []rune, open int) (item, int, error) {
	fail := func(pos int, format string, args ...any) (item, int, error) {
		return item{}, 0, &Error{Pattern: pattern, Pos: pos, Reason: fmt.Sprintf(format, args...)}
	}
	it := item{kind: class}
	i := open + 1
	if i < len(rs) && rs[i] == '^' {
		it.neg = true
		i++
	}
	for {
		if len(it.ranges) > 0 && i < len(rs) && rs[i] == ']' {
			return it, i, nil
		}
		at := i
		lo, ok := classChar(rs, &i)
		switch {
		case !ok && i >= len(rs):
			return fail(open+1, `the [ at character %d is never closed: end the class with ], or write \[ to match a [`, open+1)
		case !ok && rs[i] == ']':
			return fail(open+1, `the class at character %d is empty: list characters or ranges in it, such as [a-z], and write \] for a ] among them`, open+1)
		case !ok:
			return fail(i+1, `the - at character %d needs a \ in a class: write \-`, i+1)
		}
		hi := lo
		if i < len(rs) && rs[i] == '-' {
			i++
			if hi, ok = classChar(rs, &i); !ok {
				if i >= len(rs) {
					return fail(open+1, `the [ at character %d is never closed: end the class with ], or write \[ to match a [`, open+1)
				}
				return fail(i+1, `the range before character %d has no end: write [a-z], or \- to match a -`, i+1)
			}
			if hi < lo {
				return fail(at+1, "the range %c-%c at character %d runs backwards: write %c-%c", lo, hi, at+1, hi, lo)
			}
		}
		it.ranges = append(it.ranges, [2]rune{lo, hi})
	}
}

// classChar reads the character of a class at rs[*i], escaped or not, and
// moves *i past it. It fails, leaving *i at the problem, at the end of rs
// (or a lone \ there) and at an unescaped ] or -.
func classChar(rs []rune, i *int) (rune, bool) {
	j := *i
	switch {
	case j >= len(rs):
		return 0, false
	case rs[j] == ']' || rs[j] == '-':
		return 0, false
	case rs[j] == '\\':
		if j+1 == len(rs) {
			*i = len(rs)
			return 0, false
		}
		j++
	}
	*i = j + 1
	return rs[j], true
}

// MustCompile is Compile for patterns known to be valid; it panics on a
// malformed one.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// String is the pattern as written.
func (p *Pattern) String() string { return p.text }

// Match reports whether value matches p, without regard to case.
func (p *Pattern) Match(value string) bool {
	// The runes of the value, on the stack unless it is long: every
	// event's type is matched against every pattern.
	var buf [64]rune
	vs := buf[:0]
	for _, r := range value {
		vs = append(vs, r)
	}
	pi, vi := 0, 0
	starP, starV := -1, 0
	for vi < len(vs) {
		if pi < len(p.items) {
			if it := p.items[pi]; it.kind == star {
				starP, starV = pi, vi
				pi++
				continue
			} else if it.one(vs[vi]) {
				pi++
				vi++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last * take one more character and try again.
		starV++
		pi, vi = starP+1, starV
	}
	for pi < len(p.items) && p.items[pi].kind == star {
		pi++
	}
	return pi == len(p.items)
}

// one reports whether the single-character item it matches r.
func (it item) one(r rune) bool {
	switch it.kind {
	case anyOne:
		return true
	case literal:
		return unicode.ToLower(r) == it.r
	case class:
		in := false
		for _, c := range []rune{r, unicode.ToLower(r), unicode.ToUpper(r)} {
			for _, rg := range it.ranges {
				if rg[0] <= c && c <= rg[1] {
					in = true
				}
			}
		}
		return in != it.neg
	}
	return false
}

// Match reports whether value matches pattern; a malformed pattern
// matches nothing.
func Match(pattern, value string) bool {
	p, err := Compile(pattern)
	return err == nil && p.Match(value)
}

// Valid reports whether pattern is well formed; Compile says what is
// wrong with one that is not.
func Valid(pattern string) bool {
	_, err := Compile(pattern)
	return err == nil
}

// List is a list of compiled patterns, as a configuration list of
// patterns is.
type List []*Pattern

// CompileList compiles the patterns of a configuration list. The error
// names the first malformed one by its index, to follow the list's name:
// `[1]: "x[" is not a valid pattern: ...` (it wraps the *Error).
func CompileList(patterns []string) (List, error) {
	l := make(List, 0, len(patterns))
	for i, pat := range patterns {
		p, err := Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		l = append(l, p)
	}
	return l, nil
}

// MatchAny reports whether one of the patterns matches one of the values.
// An empty value matches no pattern (a detection without a threat name
// does not match threat: ["*"]); an empty list matches nothing.
func (l List) MatchAny(values ...string) bool {
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, p := range l {
			if p.Match(v) {
				return true
			}
		}
	}
	return false
}
