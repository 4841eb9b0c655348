package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/puawatch/puawatch/internal/secret"
)

// CredentialsDirectoryEnv is the variable systemd sets to the directory
// holding a service's credentials (LoadCredential=,
// LoadCredentialEncrypted=, SetCredential=), decrypted, one file each.
const CredentialsDirectoryEnv = "CREDENTIALS_DIRECTORY"

// Credential names in $CREDENTIALS_DIRECTORY that puawatch reads. Each
// file holds one secret on one line; a trailing newline is trimmed.
const (
	CredClientID     = "puawatch-client-id"
	CredClientSecret = "puawatch-client-secret"
	CredDB           = "puawatch-db"
	CredWebToken     = "puawatch-web-token"
	CredSMTPPassword = "puawatch-smtp-password"
	// CredReceiverPrefix starts a receiver's credential:
	// puawatch-receiver-NAME-KEY sets the secret KEY (url, secret,
	// smtp_url) of the receiver NAME's section, and
	// puawatch-receiver-NAME-header-HEADER the webhook header HEADER.
	CredReceiverPrefix = "puawatch-receiver-"
)

// credEnvVar is a credential that stands in for an environment variable
// the environment leaves unset.
type credEnvVar struct {
	cred, env string
	// unless are variables that, set, make the credential stand back
	// (PUAWATCH_CLIENT_SECRET_FILE is a client secret too).
	unless []string
}

func credEnvVars() []credEnvVar {
	return []credEnvVar{
		{cred: CredClientID, env: "PUAWATCH_CLIENT_ID"},
		{cred: CredClientSecret, env: "PUAWATCH_CLIENT_SECRET", unless: []string{"PUAWATCH_CLIENT_SECRET_FILE"}},
		{cred: CredDB, env: "PUAWATCH_DB"},
		{cred: CredWebToken, env: "PUAWATCH_WEB_TOKEN"},
	}
}

// credentials are the puawatch-* files of $CREDENTIALS_DIRECTORY.
type credentials struct {
	dir    string
	values map[string]secret.Secret // by credential name
}

// readCredentials reads every puawatch-* file of the directory that
// $CREDENTIALS_DIRECTORY names; nil when it is unset. A directory that
// cannot be listed, and a file that cannot be read, is empty, holds more
// than one line or is open to other users, is an error naming its path.
// Files not starting with "puawatch-" are another program's and left alone.
func readCredentials(getenv func(string) string) (*credentials, error) {
	dir := strings.TrimSpace(getenv(CredentialsDirectoryEnv))
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: the credentials directory %s cannot be read: %w", CredentialsDirectoryEnv, dir, errors.Unwrap(err))
	}
	c := &credentials{dir: dir, values: map[string]secret.Secret{}}
	var errs []error
	for _, de := range entries {
		name := de.Name()
		if !strings.HasPrefix(name, "puawatch-") {
			continue
		}
		p := filepath.Join(dir, name)
		s, err := readSecret(p, secretFile{
			key:   "credential " + name,
			holds: "holds the credential " + name,
			what:  "the secret",
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.values[name] = s
	}
	return c, errors.Join(errs...)
}

// env is getenv with the credentials standing in for the variables of
// credEnvVars the environment leaves unset: so the environment wins over
// a credential, and a credential over the configuration file.
func (c *credentials) env(getenv func(string) string) func(string) string {
	if c == nil {
		return getenv
	}
	set := func(k string) bool { return strings.TrimSpace(getenv(k)) != "" }
	return func(k string) string {
		if v := getenv(k); strings.TrimSpace(v) != "" {
			return v
		}
		for _, cv := range credEnvVars() {
			if cv.env != k || slices.ContainsFunc(cv.unless, set) {
				continue
			}
			if s, ok := c.values[cv.cred]; ok {
				return s.Reveal()
			}
		}
		return ""
	}
}

// apply sets the secrets that have no environment variable: the SMTP
// password into email.smtp_url, unless the environment's
// PUAWATCH_SMTP_URL carries one, and the receivers' secrets, which
// replace what the file sets. A credential named for nothing (a misspelt
// receiver, a key its kind does not have) is a warning.
func (c *credentials) apply(cfg *Config, getenv func(string) string) error {
	if c == nil {
		return nil
	}
	used := map[string]bool{}
	for _, cv := range credEnvVars() {
		used[cv.cred] = true
	}
	var errs []error
	if pw, ok := c.values[CredSMTPPassword]; ok {
		used[CredSMTPPassword] = true
		if !urlHasSecret(getenv("PUAWATCH_SMTP_URL")) {
			if err := setSMTPPassword(&cfg.Email.SMTPURL, pw, filepath.Join(c.dir, CredSMTPPassword)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range cfg.Receivers {
		v, ok := configStruct(r.Config)
		if !ok {
			continue
		}
		prefix := CredReceiverPrefix + r.Name + "-"
		for j := range v.NumField() {
			f := v.Type().Field(j)
			key := yamlName(f)
			if key == "" {
				continue
			}
			switch fv := v.Field(j); {
			case f.Type == reflect.TypeFor[secret.Secret]():
				if s, ok := c.values[prefix+key]; ok {
					used[prefix+key] = true
					fv.Set(reflect.ValueOf(s))
				}
			case key == "headers" && f.Type == reflect.TypeFor[map[string]string]():
				for name, s := range c.values {
					h, ok := strings.CutPrefix(name, prefix+"header-")
					if !ok || h == "" {
						continue
					}
					used[name] = true
					if fv.IsNil() {
						fv.Set(reflect.ValueOf(map[string]string{}))
					}
					fv.SetMapIndex(reflect.ValueOf(h), reflect.ValueOf(s.Reveal()))
				}
			}
		}
	}
	var unused []string
	for name := range c.values {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	for _, name := range unused {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("credential %s (in %s) is not used: puawatch reads %s, %s, %s, %s, %s and %sNAME-KEY for the receiver NAME's secret KEY (%s)",
			name, c.dir, CredClientID, CredClientSecret, CredDB, CredWebToken, CredSMTPPassword, CredReceiverPrefix, receiverCredHint(cfg)))
	}
	return errors.Join(errs...)
}

// receiverCredHint lists the receivers' credential names possible with
// cfg, for a warning about one that is not.
func receiverCredHint(cfg *Config) string {
	var names []string
	for _, r := range cfg.Receivers {
		v, ok := configStruct(r.Config)
		if !ok {
			continue
		}
		t := v.Type()
		for j := range t.NumField() {
			f := t.Field(j)
			switch key := yamlName(f); {
			case key == "":
			case f.Type == reflect.TypeFor[secret.Secret]():
				names = append(names, CredReceiverPrefix+r.Name+"-"+key)
			case key == "headers" && f.Type == reflect.TypeFor[map[string]string]():
				names = append(names, CredReceiverPrefix+r.Name+"-header-HEADER")
			}
		}
	}
	if len(names) == 0 {
		return "no receiver of this configuration has a secret"
	}
	return "here: " + strings.Join(names, ", ")
}

// setSMTPPassword puts pw into the SMTP URL u as the password of its
// user; the credential at path is named by the errors.
func setSMTPPassword(u *secret.Secret, pw secret.Secret, path string) error {
	if u.Empty() {
		return fmt.Errorf("credential %s: email.smtp_url is not set: set it to smtp://USER@host:587 (the password comes from the credential), or remove the credential", path)
	}
	pu, err := url.Parse(u.Reveal())
	if err != nil || pu.User == nil || pu.User.Username() == "" {
		return fmt.Errorf("credential %s: email.smtp_url names no user for the password: write smtp://USER@host:587", path)
	}
	pu.User = url.UserPassword(pu.User.Username(), pw.Reveal())
	*u = secret.Secret(pu.String())
	return nil
}
