package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

// runVersion runs `puawatch version args...` with build stamp b and the
// build info bi.
func runVersion(t *testing.T, b Build, bi *debug.BuildInfo, args ...string) cmdResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""), build: b,
		lookup:    func(string) string { return "" },
		buildInfo: func() (*debug.BuildInfo, bool) { return bi, bi != nil }}
	code := run(context.Background(), e, append([]string{"version"}, args...))
	return cmdResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func stampedInfo(modified string) *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/puawatch/puawatch", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-03-01T10:20:30Z"},
			{Key: "vcs.modified", Value: modified},
		},
	}
}

// TestVersionFromBuildInfo: without a stamp, version, commit, date and
// Go version come from the build info; vcs.modified adds "-dirty".
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	r := runVersion(t, Build{}, stampedInfo("true"))
	if r.code != ExitOK {
		t.Fatalf("want exit 0\n%s", r)
	}
	for _, want := range []string{"puawatch v1.4.0\n", "commit:   0123456789abcdef0123456789abcdef01234567-dirty\n",
		"date:     2026-03-01T10:20:30.000Z\n", "go:       go1.26.8 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	clean := runVersion(t, Build{}, stampedInfo("false"))
	if strings.Contains(clean.stdout, "-dirty") {
		t.Errorf("a clean tree (vcs.modified=false) is shown dirty:\n%s", clean.stdout)
	}
}

// TestVersionStampWins: the -ldflags stamp of package main replaces the
// build info's values; without build info and stamp it says devel and
// unknown.
func TestVersionStampWins(t *testing.T) {
	t.Parallel()
	r := runVersion(t, Build{Version: "v2.0.0-rc1", Commit: "feedface", Date: "2026-04-05T06:07:08+02:00"}, stampedInfo("true"), "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("want exit 0\n%s", r)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("--format json is not one JSON object: %v\n%s", err, r.stdout)
	}
	want := map[string]string{"version": "v2.0.0-rc1", "commit": "feedface", "date": "2026-04-05T04:07:08.000Z", "go_version": "go1.26.8"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q", k, v[k], w)
		}
	}
	if v["platform"] == "" {
		t.Errorf("platform is empty: %v", v)
	}

	bare := runVersion(t, Build{}, nil)
	if !strings.HasPrefix(bare.stdout, "puawatch devel\ncommit:   unknown\ndate:     unknown\n") {
		t.Errorf("without build info: %q", bare.stdout)
	}
}

func TestVersionBadFormat(t *testing.T) {
	t.Parallel()
	r := runVersion(t, Build{}, nil, "--format", "yaml")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `--format must be text or json, not "yaml"`) {
		t.Errorf("want exit 2 naming --format\n%s", r)
	}
}
