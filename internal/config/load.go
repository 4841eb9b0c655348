package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/secret"
)

// LoadOptions say where Load finds the configuration.
type LoadOptions struct {
	// Path is the YAML configuration file; "" means no file (defaults and
	// the environment only).
	Path string
	// Env looks up environment variables; nil means os.Getenv. An empty
	// value counts as unset.
	Env func(string) string
	// CredentialsPath is the file `puawatch login` wrote (see
	// CredentialsPath); "" means stored credentials are not used.
	CredentialsPath string
}

// envVar is one environment variable of the contract in doc.go.
type envVar struct {
	name string
	path string // the YAML path it overrides
	set  func(c *Config, v string) error
}

// envVars is the environment contract, in the order of doc.go's table.
func envVars() []envVar {
	str := func(f func(c *Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	lower := func(f func(c *Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = strings.ToLower(v); return nil }
	}
	return []envVar{
		{"PUAWATCH_CLIENT_ID", "sophos.client_id", str(func(c *Config) *string { return &c.Sophos.ClientID })},
		{"PUAWATCH_CLIENT_SECRET", "sophos.client_secret", func(c *Config, v string) error {
			c.Sophos.ClientSecret = secret.Secret(v)
			return nil
		}},
		{"PUAWATCH_CLIENT_SECRET_FILE", "sophos.client_secret_file", str(func(c *Config) *string { return &c.Sophos.ClientSecretFile })},
		{"PUAWATCH_AUTH_URL", "sophos.auth_url", str(func(c *Config) *string { return &c.Sophos.AuthURL })},
		{"PUAWATCH_API_URL", "sophos.api_url", str(func(c *Config) *string { return &c.Sophos.APIURL })},
		{"PUAWATCH_CA_FILE", "sophos.ca_file", str(func(c *Config) *string { return &c.Sophos.CAFile })},
		{"PUAWATCH_TENANT_NAME", "sophos.tenant_name", str(func(c *Config) *string { return &c.Sophos.TenantName })},
		{"PUAWATCH_INTERVAL", "poll.interval", func(c *Config, v string) error {
			d, err := duration.Parse(v)
			if err != nil {
				return err
			}
			c.Poll.Interval = d
			return nil
		}},
		{"PUAWATCH_DB", "store.db", str(func(c *Config) *string { return &c.Store.DB })},
		{"PUAWATCH_SMTP_URL", "email.smtp_url", func(c *Config, v string) error {
			c.Email.SMTPURL = secret.Secret(v)
			return nil
		}},
		{"PUAWATCH_MAIL_FROM", "email.from", str(func(c *Config) *string { return &c.Email.From })},
		{"PUAWATCH_MAIL_TO", "email.to", func(c *Config, v string) error {
			var to []string
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					to = append(to, a)
				}
			}
			c.Email.To = to
			return nil
		}},
		{"PUAWATCH_JSONL", "jsonl.path", str(func(c *Config) *string { return &c.JSONL.Path })},
		{"PUAWATCH_LOG_LEVEL", "log.level", lower(func(c *Config) *string { return &c.Log.Level })},
		{"PUAWATCH_LOG_FORMAT", "log.format", lower(func(c *Config) *string { return &c.Log.Format })},
		{"PUAWATCH_LISTEN", "web.listen", str(func(c *Config) *string { return &c.Web.Listen })},
		webEnvToken(),
	}
}

// envName is the environment variable overriding the YAML path p, or "".
func envName(p string) string {
	for _, e := range envVars() {
		if e.path == p {
			return e.name
		}
	}
	return ""
}

// Load builds the configuration: Default, then the file at o.Path (strict:
// an unknown key, a value of the wrong type or a second document is an
// error naming the line), then the environment (which wins over the file)
// with the credentials of $CREDENTIALS_DIRECTORY standing in for the
// variables it leaves unset (see credsdir.go and the package
// documentation), then the credentials that have no variable (the SMTP
// password, the receivers' secrets), then, when neither sets store.db,
// the default store in the state directory (StateDir(o.Env)/DefaultDBName),
// then the client secret file, then stored credentials when neither the
// file nor the environment names a client id or a client secret, and last
// Validate. Errors are joined, each naming the file and line or the
// variable or the YAML path. Load returns the configuration built so far
// with the error, for diagnostics such as `puawatch config check`; do not
// run with it.
//
// A file holding a secret (sophos.client_secret, a password in
// email.smtp_url or store.db) must not be open to other users, nor may the
// client secret file; see the package documentation.
func Load(o LoadOptions) (Config, error) {
	env := o.Env
	if env == nil {
		env = os.Getenv
	}
	cfg := Default()
	set := map[string]bool{}
	creds, err := readCredentials(env)
	if err != nil {
		return cfg, err
	}
	env = creds.env(env)

	if o.Path != "" {
		fileSet, err := loadFile(o.Path, &cfg)
		if err != nil {
			return cfg, err
		}
		set = fileSet
		// The deprecated listen moves before the environment is read, so
		// that PUAWATCH_LISTEN wins over it as over web.listen.
		if err := cfg.moveListen(set); err != nil {
			return cfg, err
		}
	}

	var errs []error
	envSecret := strings.TrimSpace(env("PUAWATCH_CLIENT_SECRET")) != ""
	envSecretFile := strings.TrimSpace(env("PUAWATCH_CLIENT_SECRET_FILE")) != ""
	if envSecret && envSecretFile {
		errs = append(errs, errors.New("PUAWATCH_CLIENT_SECRET and PUAWATCH_CLIENT_SECRET_FILE are both set: keep one (the file is safer)"))
	}
	for _, e := range envVars() {
		v := strings.TrimSpace(env(e.name))
		if v == "" {
			continue
		}
		if err := e.set(&cfg, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", e.name, e.path, err))
			continue
		}
		set[e.path] = true
	}
	// A secret given by the environment replaces the file's, whichever form
	// either takes.
	switch {
	case envSecret && !envSecretFile:
		cfg.Sophos.ClientSecretFile = ""
	case envSecretFile && !envSecret:
		cfg.Sophos.ClientSecret = ""
	case !cfg.Sophos.ClientSecret.Empty() && cfg.Sophos.ClientSecretFile != "":
		errs = append(errs, errors.New("sophos.client_secret and sophos.client_secret_file are both set: keep one (the file is safer)"))
	}
	// Without store.db the store lives in the state directory.
	if !set["store.db"] {
		dir, err := StateDir(env)
		if err != nil {
			cfg.Store.stateErr = err // Validate reports it with the rest
		} else {
			cfg.Store.DB, cfg.Store.StateDir = filepath.Join(dir, DefaultDBName), dir
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if err := creds.apply(&cfg, env); err != nil {
		return cfg, err
	}

	if f := cfg.Sophos.ClientSecretFile; f != "" && cfg.Sophos.ClientSecret.Empty() {
		s, err := readSecretFile(f)
		if err != nil {
			return cfg, err
		}
		cfg.Sophos.ClientSecret = s
	}

	needSophos := cfg.Sophos.ClientID == "" && cfg.Sophos.ClientSecret.Empty()
	if o.CredentialsPath != "" && (needSophos || !set["web.auth.token"]) {
		sc, err := LoadCredentials(o.CredentialsPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return cfg, err
		default:
			if !set["web.auth.token"] {
				cfg.Web.Auth.Token = sc.WebToken
			}
			if !needSophos {
				break
			}
			cfg.Sophos.ClientID = sc.ClientID
			cfg.Sophos.ClientSecret = sc.ClientSecret
			if sc.AuthURL != "" && !set["sophos.auth_url"] {
				cfg.Sophos.AuthURL = sc.AuthURL
			}
			if sc.APIURL != "" && !set["sophos.api_url"] {
				cfg.Sophos.APIURL = sc.APIURL
			}
		}
	}

	if err := cfg.moveDeprecated(set); err != nil {
		return cfg, err
	}
	cfg.normalize()
	return cfg, cfg.Validate()
}

// loadFile decodes the file at path into cfg and refuses it when it holds a
// secret and other users may read it.
func loadFile(path string, cfg *Config) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("config: %s is a directory: name the YAML file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes: is it the right file?", path, maxConfigSize)
	}
	set, decodeErr := decodeYAML(path, data, cfg)

	var held, moves []string
	if set["sophos.client_secret"] && !cfg.Sophos.ClientSecret.Empty() {
		held = append(held, "sophos.client_secret")
		moves = append(moves, "the client secret to PUAWATCH_CLIENT_SECRET_FILE")
	}
	if set["email.smtp_url"] && urlHasSecret(cfg.Email.SMTPURL.Reveal()) {
		held = append(held, "the password in email.smtp_url")
		moves = append(moves, "the SMTP URL to PUAWATCH_SMTP_URL")
	}
	if set["store.db"] && urlHasSecret(cfg.Store.DB) {
		held = append(held, "the password in store.db")
		moves = append(moves, "the database URL to PUAWATCH_DB")
	}
	held = append(held, cfg.receiverSecrets()...)
	held = append(held, cfg.webTokenHeld(set)...)
	if len(held) > 0 && len(moves) == 0 {
		moves = append(moves, "the secrets out of the file")
	}
	var permErr error
	if len(held) > 0 {
		permErr = checkPrivate(path, fi.Mode(), fmt.Sprintf("holds a secret (%s)", strings.Join(held, ", ")),
			", or move "+strings.Join(moves, " and "))
	}
	return set, errors.Join(decodeErr, permErr)
}

// maxConfigSize bounds the configuration and secret files read.
const maxConfigSize = 1 << 20

// readSecretFile reads a client secret file: one line, trailing newlines
// trimmed, not empty, and not open to other users.
func readSecretFile(path string) (secret.Secret, error) {
	return readSecret(path, secretFile{
		key:    "sophos.client_secret_file",
		holds:  "holds the client secret (sophos.client_secret_file)",
		what:   "the client secret",
		advice: " (for a Kubernetes secret volume set defaultMode: 0400, for a Docker secret mode: 0400)",
	})
}

// secretFile says how readSecret names a file holding one secret.
type secretFile struct {
	key    string // what errors start with: the setting or credential
	holds  string // "holds the client secret (...)", for checkPrivate
	what   string // "the client secret"
	advice string // appended to checkPrivate's chmod advice
}

// readSecret reads a file holding one secret, as sf names it: one line,
// trailing newlines trimmed, not empty, and not open to other users.
func readSecret(path string, sf secretFile) (secret.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", sf.key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", sf.key, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s: %s is a directory: name the file holding %s", sf.key, path, sf.what)
	}
	if err := checkPrivate(path, fi.Mode(), sf.holds, sf.advice); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return "", fmt.Errorf("%s: read %s: %w", sf.key, path, err)
	}
	if len(b) > maxConfigSize {
		return "", fmt.Errorf("%s: %s is larger than %d bytes: name the file holding only %s", sf.key, path, maxConfigSize, sf.what)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s: %s is empty: write %s into it", sf.key, path, sf.what)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("%s: %s holds more than one line: it must hold only %s", sf.key, path, sf.what)
	}
	return secret.Secret(s), nil
}

// checkPrivate refuses a file holding a secret whose mode lets group or
// others in. Windows has no such mode bits, so nothing is checked there.
func checkPrivate(path string, mode fs.FileMode, holds, advice string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := mode.Perm()
	if perm&0o077 == 0 {
		return nil
	}
	who := "is readable by others"
	if perm&0o044 == 0 {
		who = "is open to other users"
	}
	return fmt.Errorf("%s %s and %s (mode %04o): run chmod 600 %s%s", path, holds, who, perm, ShellQuote(path), advice)
}

// ShellQuote quotes path (or any word) for a shell command line when it
// needs it: the command lines puawatch prints to copy.
func ShellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+:@,=") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}

// deprecatedKeys maps the keys that moved to what to write instead.
func deprecatedKeys() map[string]string {
	return map[string]string{
		"email.time_zone":   "message.time_zone",
		"email.central_url": "message.central_url",
		"email.digest":      "route.digest_above: 0",
		"listen":            "web.listen",
	}
}

// moveDeprecated carries the keys that moved to their new homes, with a
// warning each naming the key to write instead.
func (c *Config) moveDeprecated(set map[string]bool) error {
	var errs []error
	move := func(old, new string, from, to *string) {
		if !set[old] {
			return
		}
		if set[new] && *from != *to {
			errs = append(errs, fmt.Errorf("%s and %s are both set, to different values: %s is deprecated, keep only %s", old, new, old, new))
			return
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s is deprecated: write %s instead", old, new))
		*to = *from
	}
	move("email.time_zone", deprecatedKeys()["email.time_zone"], &c.Email.TimeZone, &c.Message.TimeZone)
	move("email.central_url", deprecatedKeys()["email.central_url"], &c.Email.CentralURL, &c.Message.CentralURL)
	c.Email.TimeZone, c.Email.CentralURL = "", ""
	if set["email.digest"] {
		c.Warnings = append(c.Warnings, "email.digest is deprecated: write "+deprecatedKeys()["email.digest"]+" instead (a route section naming no receivers sends to all of them)")
	}
	return errors.Join(errs...)
}

// moveListen carries the deprecated top-level listen of the file to
// web.listen, with a warning.
func (c *Config) moveListen(set map[string]bool) error {
	defer func() { c.Listen = "" }()
	if !set["listen"] {
		return nil
	}
	if set["web.listen"] && c.Listen != c.Web.Listen {
		return fmt.Errorf("listen and web.listen are both set, to different values: listen is deprecated, keep only web.listen")
	}
	c.Warnings = append(c.Warnings, "listen is deprecated: write web.listen instead (the dashboard, /healthz, /readyz and /metrics share it)")
	c.Web.Listen = c.Listen
	return nil
}

// normalize lowercases the keywords that are case-insensitive.
func (c *Config) normalize() {
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	c.Poll.Initial = strings.ToLower(strings.TrimSpace(c.Poll.Initial))
	for i, s := range c.Match.Severities {
		c.Match.Severities[i] = strings.ToLower(strings.TrimSpace(s))
	}
}
