package cli

import (
	"context"
	"io"
)

// MainWithEnv is Main with the environment replaced by environ: a variable
// missing from the map is unset, whatever the process environment holds.
func MainWithEnv(ctx context.Context, args []string, environ map[string]string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &env{stdin: stdin, stdout: stdout, stderr: stderr, lookup: func(k string) string { return environ[k] }}, args)
}
