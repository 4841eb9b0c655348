package cli

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	r := runCLI(t, map[string]string{}, "", "demo", "--duration", "4s", "--tenants", "3", "--backlog", "20", "--interval", "1s")
	if r.code != ExitOK {
		t.Fatalf("demo: want exit 0\n%s", r)
	}
	m := regexp.MustCompile(`(?m)^(\d+) detections, (\d+) mailed in (\d+) mails captured\.$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no \"N detections, N mailed in M mails captured.\" summary:\n%s", r.stdout)
	}
	if m[1] == "0" || m[1] != m[2] {
		t.Errorf("summary %q: want N > 0 detections, every one mailed", m[0])
	}
	m = append(m[:2], m[3:]...) // m[2] is now the number of mails
	detections := regexp.MustCompile(`(?m)^detection `).FindAllString(r.stdout, -1)
	mails := regexp.MustCompile(`(?m)^\s+mail #\d+ to `).FindAllString(r.stdout, -1)
	if n := len(detections); n == 0 || strconv.Itoa(n) != m[1] {
		t.Errorf("%d \"detection\" lines, want one per detection of the summary (%s)", n, m[1])
	}
	if n := len(mails); n == 0 || strconv.Itoa(n) != m[2] {
		t.Errorf("%d \"mail #\" lines, want one per mail of the summary (%s)", n, m[2])
	}
	if !regexp.MustCompile(`^puawatch demo: the dashboard is at http://127\.0\.0\.1:\d+/\n`).MatchString(r.stdout) {
		t.Errorf("the dashboard's URL is not the first line:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "simulated Sophos Central") || !strings.Contains(r.stdout, "SMTP capture") {
		t.Errorf("the demo banner is missing:\n%s", r.stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := runCLI(t, map[string]string{}, "", "version")
	if r.code != ExitOK {
		t.Fatalf("version: want exit 0\n%s", r)
	}
	if !regexp.MustCompile(`^puawatch \S+`).MatchString(r.stdout) {
		t.Errorf("version printed %q, want \"puawatch <version>\"", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("version wrote to stderr: %q", r.stderr)
	}
}
