package glob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/glob/globtest"
)

// TestCases runs the cases every user of the package is tested against.
func TestCases(t *testing.T) {
	for _, c := range globtest.Cases() {
		p, err := glob.Compile(c.Pattern)
		if c.WantError != "" {
			var ge *glob.Error
			switch {
			case err == nil:
				t.Errorf("Compile(%q) succeeded, want an error containing %q", c.Pattern, c.WantError)
			case !errors.As(err, &ge) || ge.Pattern != c.Pattern:
				t.Errorf("Compile(%q): %v is not a *glob.Error naming the pattern", c.Pattern, err)
			case !strings.Contains(err.Error(), c.WantError):
				t.Errorf("Compile(%q): %q, want it to contain %q", c.Pattern, err, c.WantError)
			}
			if glob.Valid(c.Pattern) {
				t.Errorf("Valid(%q) = true", c.Pattern)
			}
			for _, v := range append(c.Match, c.Pattern, "", "x") {
				if glob.Match(c.Pattern, v) {
					t.Errorf("Match(%q, %q): a malformed pattern matched", c.Pattern, v)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("Compile(%q): %v", c.Pattern, err)
			continue
		}
		if !glob.Valid(c.Pattern) || p.String() != c.Pattern {
			t.Errorf("Valid(%q) = false or String() = %q", c.Pattern, p.String())
		}
		for _, v := range c.Match {
			if !p.Match(v) || !glob.Match(c.Pattern, v) || !(glob.List{p}).MatchAny("", v) {
				t.Errorf("%q does not match %q", c.Pattern, v)
			}
		}
		for _, v := range c.NoMatch {
			if p.Match(v) || glob.Match(c.Pattern, v) || (glob.List{p}).MatchAny(v) {
				t.Errorf("%q matches %q", c.Pattern, v)
			}
		}
	}
}

func TestErrorPosition(t *testing.T) {
	_, err := glob.Compile("ab[cd")
	var ge *glob.Error
	if !errors.As(err, &ge) || ge.Pos != 3 {
		t.Fatalf("Compile(ab[cd): %#v, want a *glob.Error at character 3", err)
	}
	if want := `"ab[cd" is not a valid pattern: the [ at character 3 is never closed: end the class with ], or write \[ to match a [`; err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

func TestListMatchAny(t *testing.T) {
	l := glob.List{glob.MustCompile("contoso*"), glob.MustCompile("t-1")}
	for _, tt := range []struct {
		values []string
		want   bool
	}{
		{[]string{"T-1", "Fabrikam"}, true},
		{[]string{"x", "Contoso EU"}, true},
		{[]string{"x", "y"}, false},
		{[]string{""}, false},
		{nil, false},
	} {
		if got := l.MatchAny(tt.values...); got != tt.want {
			t.Errorf("MatchAny(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
	if (glob.List{glob.MustCompile("*")}).MatchAny("") {
		t.Error(`* matched an empty value in a List`)
	}
	if glob.List(nil).MatchAny("x") {
		t.Error("an empty list matched")
	}
}

// FuzzMatch checks Match against a plain recursive matcher of the same
// syntax, and that Compile never panics.
func FuzzMatch(f *testing.F) {
	for _, c := range globtest.Cases() {
		for _, v := range append(c.Match, c.NoMatch...) {
			f.Add(c.Pattern, v)
		}
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		p, err := glob.Compile(pattern)
		if err != nil || strings.Count(pattern, "*") > 4 || len(value) > 64 {
			return // the reference matcher is exponential in stars
		}
		if got, want := p.Match(value), slowMatch([]rune(pattern), []rune(value)); got != want {
			t.Errorf("Match(%q, %q) = %v, the reference matcher says %v", pattern, value, got, want)
		}
	})
}

// slowMatch is a backtracking matcher of a valid pattern, for FuzzMatch.
func slowMatch(p, v []rune) bool {
	if len(p) == 0 {
		return len(v) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(v); i++ {
			if slowMatch(p[1:], v[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(v) > 0 && slowMatch(p[1:], v[1:])
	case '[':
		if len(v) == 0 {
			return false
		}
		i, neg, in := 1, false, false
		if p[i] == '^' {
			neg = true
			i++
		}
		fold := []rune{v[0], lower(v[0]), upper(v[0])}
		for first := true; first || p[i] != ']'; first = false {
			lo := p[i]
			if lo == '\\' {
				i++
				lo = p[i]
			}
			i++
			hi := lo
			if p[i] == '-' {
				i++
				if p[i] == '\\' {
					i++
				}
				hi = p[i]
				i++
			}
			for _, c := range fold {
				if lo <= c && c <= hi {
					in = true
				}
			}
		}
		return in != neg && slowMatch(p[i+1:], v[1:])
	case '\\':
		p = p[1:]
	}
	return len(v) > 0 && lower(p[0]) == lower(v[0]) && slowMatch(p[1:], v[1:])
}

func lower(r rune) rune { return []rune(strings.ToLower(string(r)))[0] }
func upper(r rune) rune { return []rune(strings.ToUpper(string(r)))[0] }
