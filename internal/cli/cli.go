package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError marks an error as the user's to fix (exit status 2). The
// app's configuration errors are *app.ConfigError (exit status 2 too).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// env carries the process's streams to the commands.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) string             // environment; nil: os.Getenv
	build          Build                           // the stamp of package main; see version.go
	buildInfo      func() (*debug.BuildInfo, bool) // nil: debug.ReadBuildInfo
}

// Main runs the command line args and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainBuild(ctx, Build{}, args, stdin, stdout, stderr)
}

// MainBuild is Main for a binary stamped with b (package main's
// -ldflags "-X main.version=..." variables), which `puawatch version`
// prints in place of what the build info says.
func MainBuild(ctx context.Context, b Build, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &env{stdin: stdin, stdout: stdout, stderr: stderr, build: b}, args)
}

// run runs args in e and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	stdin, stdout, stderr := e.stdin, e.stdout, e.stderr
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "puawatch:", err)
	return exitStatus(err)
}

// exitStatus is the exit status of a command's error: 2 for a usage or
// configuration error (a usageError, an *app.ConfigError, a flag error),
// the status an *exitCodeError carries, and 1 for every run-time failure
// (the store cannot be opened, the network, a tenant that failed).
func exitStatus(err error) int {
	var ue usageError
	var ce *exitCodeError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ue), app.IsConfigError(err), isCobraUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

// exitCodeError ends a command with a given status after it has reported
// what went wrong.
type exitCodeError struct {
	code int
	msg  string
}

func (e *exitCodeError) Error() string { return e.msg }

func isCobraUsage(err error) bool {
	// cobra reports unknown commands and flags as plain errors; every error
	// that reaches Main before a command ran is a usage error.
	var fe flagError
	return errors.As(err, &fe)
}

type flagError struct{ error }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "puawatch",
		Short:         "Watch Sophos Central for PUA detections and tell the people responsible, each once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return flagError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(newRunCmd(e), newDemoCmd(e), newLoginCmd(e), newConfigCmd(e), newDetectionsCmd(e), newAckCmd(e), newOutboxCmd(e), newStatusCmd(e), newNotifyCmd(e), newSimCmd(e), newBenchCmd(e), newVersionCmd(e))
	root.AddCommand(newHealthCmd(e))
	// cobra adds these two itself when it runs; added now, the walk below
	// gives them the same rules.
	root.SetHelpCommand(newHelpCmd())
	root.InitDefaultCompletionCmd()
	// Unknown subcommands and stray arguments are usage errors too, at
	// every level of the command tree: a command group (config, outbox,
	// ...) run with an argument that names none of its commands says so and
	// suggests the nearest, instead of printing its help and exiting 0.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = cobra.ArbitraryArgs
			c.DisableFlagsInUseLine = true
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return unknownCommand(cmd, args[0])
				}
				return cmd.Help()
			}
		case c.Args == nil:
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return flagError{fmt.Errorf("unknown command or argument %q for %q", args[0], cmd.CommandPath())}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// unknownCommand is the usage error for name, which is none of parent's
// commands: it names the nearest ones (cobra's SuggestionsFor, first
// within a Levenshtein distance of 1, else of 2; a prefix counts too).
func unknownCommand(parent *cobra.Command, name string) error {
	var near []string
	for d := 1; d <= 2 && len(near) == 0; d++ {
		parent.SuggestionsMinimumDistance = d
		near = parent.SuggestionsFor(name)
	}
	hint := ""
	if len(near) > 0 {
		q := make([]string, len(near))
		for i, n := range near {
			q[i] = strconv.Quote(n)
		}
		hint = "; did you mean " + strings.Join(q, " or ") + "?"
	}
	return flagError{fmt.Errorf("unknown command %q for %q%s (see '%s --help')", name, parent.CommandPath(), hint, parent.CommandPath())}
}

// newHelpCmd is cobra's help command, except that an unknown topic is a
// usage error like an unknown command.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil {
				return flagError{err}
			}
			if len(rest) > 0 {
				return unknownCommand(cmd, rest[0])
			}
			return cmd.Help()
		},
	}
}
