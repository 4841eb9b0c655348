package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory (this package is cmd/puawatch).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// build compiles this command into a temporary directory as the
// Dockerfile does (CGO_ENABLED=0, -trimpath) with the -ldflags given,
// and returns the binary's path.
func build(t *testing.T, ldflags string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "puawatch")
	args := []string{"build", "-trimpath", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// TestStaticBinary: the build of the Dockerfile is a static executable
// (no ELF interpreter, no dynamic section), so it runs on distroless
// static or scratch.
func TestStaticBinary(t *testing.T) {
	t.Parallel()
	bin := build(t, "-s -w")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %s program header: it is linked dynamically", bin, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", bin)
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

// TestVersionStamp: `go build -ldflags "-X main.version=..."` reaches
// `puawatch version` (text and JSON).
func TestVersionStamp(t *testing.T) {
	t.Parallel()
	bin := build(t, "-X main.version=v9.8.7 -X main.commit=c0ffee -X main.date=2026-05-06T07:08:09Z")
	out, err := exec.Command(bin, "version", "--format", "json").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v["version"] != "v9.8.7" || v["commit"] != "c0ffee" || v["date"] != "2026-05-06T07:08:09.000Z" || !strings.HasPrefix(v["go_version"], "go1.") {
		t.Errorf("version --format json = %v", v)
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(text), "puawatch v9.8.7\n") {
		t.Errorf("version = %q, %v", text, err)
	}
}

// TestSystemdUnit: `systemd-analyze verify` accepts deploy/systemd's unit
// without a warning (verify exits 0 even for an unknown key, so its
// output must be empty too), with ExecStart pointing at a built binary;
// a misspelt key in a copy is caught, which shows the check checks; and
// the offline security review rates the sandbox "OK" (exposure below
// 2.0 of 10).
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "systemd", "puawatch.service"))
	if err != nil {
		t.Fatal(err)
	}
	const execPath = "/usr/local/bin/puawatch"
	for _, want := range []string{
		"ExecStart=" + execPath + " run --config /etc/puawatch/puawatch.yaml",
		"DynamicUser=yes", "StateDirectory=puawatch", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"SystemCallFilter=@system-service", "SystemCallFilter=~@privileged @resources", "CapabilityBoundingSet=\n",
		"LoadCredentialEncrypted=puawatch-client-secret:/etc/credstore.encrypted/puawatch-client-secret",
		"LoadCredentialEncrypted=puawatch-smtp-password:",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	bin := build(t, "")
	dir := t.TempDir()
	verify := func(name string, text []byte) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.ReplaceAll(text, []byte(execPath), []byte(bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", p).CombinedOutput()
		return string(out), err
	}
	if out, err := verify("puawatch.service", unit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := bytes.Replace(unit, []byte("ProtectSystem=strict"), []byte("ProtectSystm=strict"), 1)
	if out, _ := verify("bad.service", bad); !strings.Contains(out, "ProtectSystm") {
		t.Errorf("verify did not report a misspelt key: %q", out)
	}

	out, _ := exec.Command(analyze, "security", "--offline=yes", filepath.Join(dir, "puawatch.service")).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for puawatch\.service: ([0-9.]+) (\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("systemd-analyze security gave no exposure level:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(m[1], 64); level >= 2.0 || m[2] != "OK" {
		t.Errorf("exposure %s %s, want below 2.0 (OK)", m[1], m[2])
	}
	t.Logf("systemd-analyze security --offline: exposure %s %s", m[1], m[2])
}

// TestDockerfile: the Dockerfile builds as TestStaticBinary does, runs as
// nonroot on distroless, keeps the state in a volume the default store
// uses, and checks its health with `puawatch health`. (No Docker daemon
// is needed for this; building the image is not part of the tests.)
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"FROM golang:1.26 AS build",
		"CGO_ENABLED=0 go build -trimpath",
		"-X main.version=${VERSION}",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"ENV STATE_DIRECTORY=/var/lib/puawatch",
		"PUAWATCH_LISTEN=0.0.0.0:9787",
		`VOLUME ["/var/lib/puawatch"]`,
		"EXPOSE 9787",
		"USER nonroot:nonroot",
		`CMD ["/puawatch", "health"]`,
		`ENTRYPOINT ["/puawatch"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git\n", "**/*.db\n", "**/credentials.yaml\n"} {
		if !strings.Contains(string(ignore), want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}
