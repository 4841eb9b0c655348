package urlpolicy

import (
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true, "::1%lo": true,
		"": false, "10.0.0.1": false, "192.168.1.1": false, "example.com": false, "localhost.example.com": false,
		"0.0.0.0": false, "::": false, "128.0.0.1": false, "api.central.sophos.com": false,
	} {
		if got := Loopback(h); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/x":      "",
		"HTTPS://hooks.slack.com/services/x":      "",
		"https://h.example/x?sig=1#f":             "",
		"https://user:pw@h.example/x":             "",
		"http://127.0.0.1:8080/h":                 "",
		"http://127.3.2.1:9/h":                    "",
		"http://localhost/h":                      "",
		"http://[::1]:8080":                       "",
		"http://hooks.example.com/SECRET":         `"http://hooks.example.com/…" uses plain http to a host that is not loopback: use https (plain http is accepted only for a loopback host: localhost, 127.0.0.0/8 or ::1)`,
		"http://10.0.0.1":                         `"http://10.0.0.1" uses plain http`,
		"http://localhost.evil.example":           "uses plain http",
		"ftp://x.example/SECRET":                  `"ftp://x.example/…" is not an https URL: use https (plain http is accepted only`,
		"not a url":                               "not a URL with a scheme and host: write it as https://host/path",
		"hooks.example.com/SECRET":                "not a URL with a scheme and host",
		"https://h.example/%zz/SECRET":            "not a URL with a scheme and host",
		"https://":                                "not a URL with a scheme and host",
		"":                                        "not a URL with a scheme and host",
		"https://h.example/\x1b[31mSECRET\x1b[0m": "not a URL with a scheme and host",
	} {
		_, err := Check(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want ok", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("Check(%q) = %v, want an error with %q", raw, err, want)
		case err != nil && (strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "pw")):
			t.Errorf("Check(%q) = %v shows more than scheme and host", raw, err)
		}
	}
}

func TestCheckBase(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.central.sophos.com":            "",
		"https://id.sophos.com/api/v2/oauth2/token": "",
		"http://127.0.0.1:8080":                     "",
		"https://user:SECRET@api.example.com":       `"https://api.example.com/…" must not carry a user name or password: remove them from the URL`,
		"https://id.example.com/token?x=SECRET":     `"https://id.example.com/…" must not have a query or fragment: remove them`,
		"https://id.example.com/token#SECRET":       "must not have a query or fragment",
		"https://id.example.com/token?":             "must not have a query or fragment",
		"http://api.example.com":                    `"http://api.example.com" uses plain http`,
		"api.central.sophos.com":                    "not a URL with a scheme and host",
	} {
		_, err := CheckBase(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckBase(%q) = %v, want ok", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckBase(%q) = %v, want an error with %q", raw, err, want)
		case err != nil && strings.Contains(err.Error(), "SECRET"):
			t.Errorf("CheckBase(%q) = %v shows more than scheme and host", raw, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/X":     "https://hooks.slack.com/…",
		"https://x.example/?token=1":                   "https://x.example/…",
		"https://x.example#frag":                       "https://x.example/…",
		"https://u:pw@x.example":                       "https://x.example/…",
		"postgres://u:pw@127.0.0.1:5432/db?sslmode=no": "postgres://127.0.0.1:5432/…",
		"https://api.central.sophos.com":               "https://api.central.sophos.com",
		"https://api.central.sophos.com/":              "https://api.central.sophos.com",
		"http://[::1]:8080":                            "http://[::1]:8080",
		"hooks.slack.com/services/T0":                  "[redacted URL]",
		"https://h/%zz/secret":                         "[redacted URL]",
		"":                                             "[redacted URL]",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestWebURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://central.sophos.com": true, "https://central.sophos.com/manage": true, "http://central.example": true,
		"javascript:alert(1)": false, "central.sophos.com": false, "ftp://central.example": false, "https://": false, "": false,
		"https://h/%zz": false,
	} {
		if got := WebURL(raw); got != want {
			t.Errorf("WebURL(%q) = %v, want %v", raw, got, want)
		}
	}
}
