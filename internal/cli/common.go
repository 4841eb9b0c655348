package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/spf13/cobra"
)

// configFlags are the flags every command that reads the configuration
// has.
type configFlags struct {
	path        string
	credentials string
}

func (f *configFlags) register(c *cobra.Command) {
	c.Flags().StringVarP(&f.path, "config", "c", "", "configuration file (YAML); default $PUAWATCH_CONFIG; the environment overrides it")
	c.Flags().StringVar(&f.credentials, "credentials", "", "credentials stored by `puawatch login` (default: in the user's config directory)")
}

// load reads the configuration: the file, the environment, the stored
// credentials. Every error is a configuration error (exit status 2).
func (f *configFlags) load(e *env) (config.Config, error) {
	creds := f.credentials
	if creds == "" {
		creds, _ = config.CredentialsPath()
	}
	cfg, err := f.loadEnv(e.getenv, creds)
	for _, w := range cfg.Warnings {
		fmt.Fprintf(e.stderr, "puawatch: warning: %s\n", w)
	}
	return cfg, err
}

// loadEnv is load with the environment getenv and the stored credentials
// at creds ("" for none).
func (f *configFlags) loadEnv(getenv func(string) string, creds string) (config.Config, error) {
	p := f.path
	if p == "" {
		p = getenv("PUAWATCH_CONFIG")
	}
	cfg, err := config.Load(config.LoadOptions{Path: p, Env: getenv, CredentialsPath: creds})
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// logger makes the process's logger as the configuration asks.
func logger(w io.Writer, c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newStore tells the user that a new, empty store was created at path:
// one line on stderr, since a new store notifies every detection of the
// last day again.
func (e *env) newStore(path string) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	fmt.Fprintf(e.stderr, "puawatch: created a new store at %s\n", path)
}

func (e *env) getenv(k string) string {
	if e.lookup != nil {
		return e.lookup(k)
	}
	return os.Getenv(k)
}
