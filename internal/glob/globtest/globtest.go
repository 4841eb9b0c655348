// Package globtest holds the cases every user of package glob is tested
// against, so that a pattern gives the same answer wherever it is written:
// match.types, tenants.include and exclude, the route section's match
// lists, and configuration validation.
package globtest

// Case is a pattern and either the values it matches and does not match,
// or the error Compile gives (a part of its text).
type Case struct {
	Pattern   string
	Match     []string // values the pattern matches
	NoMatch   []string // values it does not match
	WantError string   // "": the pattern is valid
}

// Cases are the shared cases. Values are never empty: some users skip an
// empty value before matching.
func Cases() []Case {
	return []Case{
		{Pattern: "*Pua*Detect*", Match: []string{"Event::Endpoint::CorePuaDetection", "event::endpoint::corepuaremotedetection", "Event::Endpoint::Threat::PuaDetected"},
			NoMatch: []string{"Event::Endpoint::CorePuaClean", "Event::Endpoint::CorePuaCleanFailed"}},
		{Pattern: "Event::Endpoint::CorePuaDetection", Match: []string{"Event::Endpoint::CorePuaDetection", "EVENT::ENDPOINT::COREPUADETECTION"},
			NoMatch: []string{"Event::Endpoint::CorePuaDetection2", "Event::Endpoint::CorePuaDetectio"}},
		{Pattern: "contoso*", Match: []string{"Contoso GmbH", "CONTOSO", "contoso/eu"}, NoMatch: []string{"The Contoso", "Fabrikam"}},
		{Pattern: "*coinminer*", Match: []string{"PUA/CoinMiner.Generic"}, NoMatch: []string{"PsExec"}},
		{Pattern: "pua/*.generic", Match: []string{"PUA/CoinMiner.Generic", "PUA/a/b.Generic"}, NoMatch: []string{"PUA.Generic"}},
		{Pattern: "ws-??", Match: []string{"WS-01", "ws-/x"}, NoMatch: []string{"WS-1", "WS-001"}},
		{Pattern: "[a-c]x", Match: []string{"bx", "BX", "Ax"}, NoMatch: []string{"dx", "x", "abx"}},
		{Pattern: "[A-C]x", Match: []string{"bx", "CX"}, NoMatch: []string{"dx"}},
		{Pattern: "[^a-c]*", Match: []string{"dog", "Zed", "/x"}, NoMatch: []string{"apple", "Banana"}},
		{Pattern: `\*star\?`, Match: []string{"*STAR?"}, NoMatch: []string{"xstar?", "*starx"}},
		{Pattern: `[\]\-]`, Match: []string{"]", "-"}, NoMatch: []string{"a", `\`}},
		{Pattern: "*", Match: []string{"anything at all", "a/b", " "}},
		{Pattern: "a*b*c", Match: []string{"abc", "aXbYc", "abbbc", "acbc"}, NoMatch: []string{"ab", "acb", "abcx"}},
		{Pattern: "Straße*", Match: []string{"STRAßE AG", "straße"}, NoMatch: []string{"Strasse"}},
		{Pattern: "tenant ]", Match: []string{"Tenant ]"}}, // ] outside a class is itself
		{Pattern: "", WantError: "empty"},
		{Pattern: "   ", WantError: "empty"},
		{Pattern: "[x", WantError: "the [ at character 1 is never closed"},
		{Pattern: "acme[", WantError: "the [ at character 5 is never closed"},
		{Pattern: "[^", WantError: "never closed"},
		{Pattern: `[a\`, WantError: "never closed"},
		{Pattern: "[]", WantError: "the class at character 1 is empty"},
		{Pattern: "[^]x]", WantError: "is empty"},
		{Pattern: "[a-]", WantError: "the range before character 4 has no end"},
		{Pattern: "[-a]", WantError: `the - at character 2 needs a \ in a class`},
		{Pattern: "[a-b-c]", WantError: `the - at character 5 needs a \`},
		{Pattern: "[z-a]", WantError: "the range z-a at character 2 runs backwards: write a-z"},
		{Pattern: `tenant\`, WantError: `ends in a lone \`},
		{Pattern: "\xff*", WantError: "not valid UTF-8"},
	}
}
