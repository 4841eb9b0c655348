package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		p, v string
		want bool
	}{
		{"*coinminer*", "PUA/CoinMiner.Generic", true},
		{"contoso*", "Contoso GmbH", true},
		{"CONTOSO*", "contoso", true},
		{"*Pua*Detect*", "Event::Endpoint::CorePuaRemoteDetection", true},
		{"*Pua*Detect*", "Event::Endpoint::CorePuaClean", false},
		{"a?c", "abc", true},
		{"[ab]x", "bx", true},
		{"x", "xy", false},
		{"a/b", "A/B", true},
	} {
		if got := Match(tt.p, tt.v); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.p, tt.v, got, tt.want)
		}
	}
	for p, want := range map[string]bool{"x*": true, "[x": false, "": false, " ": false, "a/b": true} {
		if got := Valid(p); got != want {
			t.Errorf("Valid(%q) = %v, want %v", p, got, want)
		}
	}
}
