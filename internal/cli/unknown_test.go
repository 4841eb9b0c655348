package cli

import (
	"strings"
	"testing"
)

// TestUnknownCommand: a mistyped command, at any level of the command
// tree, is a usage error (exit 2) naming it and the command meant, so a
// crontab typo does not pass for a run; `help` with an unknown topic too.
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"runn"}, []string{`unknown command "runn" for "puawatch"`, `did you mean "run"?`}},
		{[]string{"config", "chek"}, []string{`unknown command "chek" for "puawatch config"`, `did you mean "check"?`}},
		{[]string{"outbox", "lst"}, []string{`unknown command "lst" for "puawatch outbox"`, `did you mean "list"?`}},
		{[]string{"notify", "tst", "soc"}, []string{`unknown command "tst" for "puawatch notify"`, `did you mean "test"?`}},
		{[]string{"completion", "bsh"}, []string{`unknown command "bsh" for "puawatch completion"`, `did you mean "bash" or "zsh"?`}},
		{[]string{"xyzzy"}, []string{`unknown command "xyzzy" for "puawatch"`, "see 'puawatch --help'"}},
		{[]string{"help", "runn"}, []string{`unknown command "runn" for "puawatch"`, `did you mean "run"?`}},
		{[]string{"help", "config", "chek"}, []string{`unknown command "chek" for "puawatch config"`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, map[string]string{}, "", tc.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d\n%s", r.code, ExitUsage, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q\n%s", w, r)
				}
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want one line on stderr, not the help text\n%s", r)
			}
		})
	}
	// A command group alone still shows its help, and asking for help is
	// not an error.
	for _, args := range [][]string{{"config"}, {"outbox"}, {"help"}, {"help", "outbox"}, {"outbox", "--help"}} {
		if r := runCLI(t, map[string]string{}, "", args...); r.code != ExitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: want help on stdout and exit 0\n%s", args, r)
		}
	}
	// What no command has: a suggestion is only given when one is near.
	if r := runCLI(t, map[string]string{}, "", "xyzzy"); strings.Contains(r.stderr, "did you mean") {
		t.Errorf("a suggestion for xyzzy: %s", r.stderr)
	}
}
