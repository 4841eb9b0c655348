package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/puawatch/puawatch/internal/secret"
)

// StoredCredentials are the API credentials `puawatch login` saves, used
// by Load when neither the configuration file nor the environment names a
// client id or secret.
type StoredCredentials struct {
	ClientID     string        `yaml:"client_id"`
	ClientSecret secret.Secret `yaml:"client_secret"`
	// AuthURL and APIURL are kept only when they differ from the defaults
	// (a simulator, a proxy); "" means the default.
	AuthURL string `yaml:"auth_url"`
	APIURL  string `yaml:"api_url"`
	// WebToken is the dashboard's bearer token (web.auth.token), used
	// when neither the configuration file nor PUAWATCH_WEB_TOKEN sets
	// one; written into the file by hand, kept by `puawatch login`.
	WebToken secret.Secret `yaml:"web_token"`
}

// CredentialsPath is where `puawatch login` keeps the credentials:
// os.UserConfigDir()/puawatch/credentials.yaml (on Linux
// $XDG_CONFIG_HOME/puawatch/credentials.yaml, else
// ~/.config/puawatch/credentials.yaml).
func CredentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("credentials: no user configuration directory (%w): set PUAWATCH_CLIENT_ID and PUAWATCH_CLIENT_SECRET_FILE instead", err)
	}
	return filepath.Join(dir, "puawatch", "credentials.yaml"), nil
}

// SaveCredentials writes c to path with the secret in plain text (that is
// the file's purpose), readable by the owner only: a missing directory is
// made with mode 0700, and the file is written with mode 0600 to a
// temporary file in the same directory and renamed over path, so a reader
// never sees half a file. AuthURL and APIURL equal to the defaults are not
// written.
func SaveCredentials(path string, c StoredCredentials) error {
	if strings.TrimSpace(c.ClientID) == "" || c.ClientSecret.Empty() {
		return errors.New("credentials: client id and client secret are both needed")
	}
	if strings.ContainsAny(c.ClientID+c.AuthURL+c.APIURL, "\r\n") || strings.ContainsAny(c.ClientSecret.Reveal()+c.WebToken.Reveal(), "\r\n") {
		return errors.New("credentials: client id, client secret, web token and URLs must be one line each")
	}
	if c.AuthURL == DefaultAuthURL {
		c.AuthURL = ""
	}
	if c.APIURL == DefaultAPIURL {
		c.APIURL = ""
	}
	var b strings.Builder
	b.WriteString("# Sophos Central API credentials saved by `puawatch login`.\n")
	b.WriteString("# Keep this file private (mode 0600); `puawatch login` rewrites it.\n")
	line := func(k, v string) {
		if v != "" {
			// strconv.Quote output is a valid YAML double-quoted scalar.
			fmt.Fprintf(&b, "%s: %s\n", k, strconv.Quote(v))
		}
	}
	line("client_id", c.ClientID)
	line("client_secret", c.ClientSecret.Reveal())
	line("auth_url", c.AuthURL)
	line("api_url", c.APIURL)
	line("web_token", c.WebToken.Reveal())

	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		// MkdirAll applies the umask; make the mode exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if _, err := io.WriteString(tmp, b.String()); err != nil {
		return fmt.Errorf("credentials: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("credentials: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("credentials: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	done = true
	// Make the rename durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LoadCredentials reads credentials SaveCredentials wrote. It refuses a
// file that group or others may read, with the chmod to run, and a file
// lacking the client id or secret. A missing file gives an error wrapping
// fs.ErrNotExist.
func LoadCredentials(path string) (StoredCredentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return StoredCredentials{}, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return StoredCredentials{}, fmt.Errorf("credentials: %w", err)
	}
	if err := checkPrivate(path, fi.Mode(), "holds the Sophos client secret", ""); err != nil {
		return StoredCredentials{}, fmt.Errorf("credentials: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return StoredCredentials{}, fmt.Errorf("credentials: read %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return StoredCredentials{}, fmt.Errorf("credentials: %s is larger than %d bytes: run `puawatch login` again", path, maxConfigSize)
	}
	var c StoredCredentials
	if _, err := decodeYAML(path, data, &c); err != nil {
		return StoredCredentials{}, fmt.Errorf("credentials: %w", err)
	}
	if strings.TrimSpace(c.ClientID) == "" || c.ClientSecret.Empty() {
		return StoredCredentials{}, fmt.Errorf("credentials: %s lacks client_id or client_secret: run `puawatch login` again", path)
	}
	return c, nil
}
