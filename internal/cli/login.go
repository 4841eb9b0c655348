package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newLoginCmd(e *env) *cobra.Command {
	var authURL, apiURL, path string
	var cf configFlags
	c := &cobra.Command{
		Use:   "login",
		Short: "Ask for the API client id and secret once, check them, and keep them for `run`",
		Long: `Ask for the client id and secret of a Sophos Central API credential (the
secret is not echoed), check them against the token endpoint and whoami,
print the credential type (and for a partner or organization how many
tenants it sees), and store them in a file only you can read, in your
config directory. ` + "`puawatch run`" + ` uses them when neither the configuration
nor the environment names a credential.

Everything else comes from the configuration as for ` + "`puawatch run`" + `: the
file (--config or PUAWATCH_CONFIG) and the environment, so PUAWATCH_AUTH_URL,
PUAWATCH_API_URL, PUAWATCH_CA_FILE (sophos.ca_file) and sophos.timeout apply;
--auth-url and --api-url win over them. Exit status 2 when the credentials
are refused or the configuration is not usable, 1 when Sophos Central could
not be reached (nothing is stored then either).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				p, err := config.CredentialsPath()
				if err != nil {
					return usagef("no config directory to keep the credentials in (%v): give --credentials", err)
				}
				path = p
			}
			in := bufio.NewReader(e.stdin)
			fmt.Fprint(e.stderr, "Client ID: ")
			id, err := readLine(in)
			if err != nil {
				return usagef("reading the client id: %v", err)
			}
			fmt.Fprint(e.stderr, "Client secret (not shown): ")
			sec, err := readSecret(e.stdin, in)
			fmt.Fprintln(e.stderr)
			if err != nil {
				return usagef("reading the client secret: %v", err)
			}
			if id == "" || sec == "" {
				return usagef("the client id and the secret are both needed (Sophos Central: Global Settings > API Credentials)")
			}
			// The configuration as run reads it, with the credential just
			// typed in place of any other (stored credentials are not read).
			override := map[string]string{"PUAWATCH_CLIENT_ID": id, "PUAWATCH_CLIENT_SECRET": sec, "PUAWATCH_CLIENT_SECRET_FILE": ""}
			if authURL != "" {
				override["PUAWATCH_AUTH_URL"] = authURL
			}
			if apiURL != "" {
				override["PUAWATCH_API_URL"] = apiURL
			}
			getenv := func(k string) string {
				if v, ok := override[k]; ok {
					return v
				}
				return e.getenv(k)
			}
			cfg, err := cf.loadEnv(getenv, "")
			if err != nil {
				return err
			}
			client, err := app.NewClient(cfg, logger(e.stderr, cfg.Log), interactive)
			if err != nil {
				return err
			}
			if err := checkCredentials(cmd, e, client); err != nil {
				if app.CredentialsRejected(err) {
					return usageError{fmt.Errorf("the credentials were not accepted, nothing stored: %w", err)}
				}
				return fmt.Errorf("%s, nothing stored: %w", loginFailure(err), err)
			}
			sc := config.StoredCredentials{ClientID: id, ClientSecret: secret.Secret(sec), AuthURL: cfg.Sophos.AuthURL, APIURL: cfg.Sophos.APIURL}
			if old, err := config.LoadCredentials(path); err == nil {
				sc.WebToken = old.WebToken // the dashboard's token stays
			}
			if err := config.SaveCredentials(path, sc); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "stored in %s (readable only by you)\n", path)
			return nil
		},
	}
	c.Flags().StringVarP(&cf.path, "config", "c", "", "configuration file (YAML); default $PUAWATCH_CONFIG; the environment overrides it")
	c.Flags().StringVar(&authURL, "auth-url", "", "token endpoint (default: PUAWATCH_AUTH_URL or sophos.auth_url, else "+config.DefaultAuthURL+")")
	c.Flags().StringVar(&apiURL, "api-url", "", "global API host (default: PUAWATCH_API_URL or sophos.api_url, else "+config.DefaultAPIURL+")")
	c.Flags().StringVar(&path, "credentials", "", "where to keep them (default: in the user's config directory)")
	return c
}

// interactive makes a client give up sooner than run's: someone waits at
// the terminal, and a host that does not answer now is reported now.
func interactive(o *central.Options) {
	o.MaxAttempts = 3
	o.BackoffBase = 250 * time.Millisecond
	o.BackoffMax = time.Second
}

// loginFailure says why a credential could not be checked when Sophos
// Central did not refuse it: the network (DNS, a refused connection, TLS,
// a timeout) or an answer other than a refused token.
func loginFailure(err error) string {
	var dnsErr *net.DNSError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	var ne net.Error
	var ae *central.APIError
	switch {
	case errors.As(err, &dnsErr):
		return "cannot reach Sophos Central: host name not found (DNS lookup of " + dnsErr.Name + " failed)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot reach Sophos Central: connection refused"
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie):
		return "cannot reach Sophos Central: its TLS certificate is not trusted (for a private CA or a TLS-inspecting proxy set PUAWATCH_CA_FILE or sophos.ca_file)"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "cannot reach Sophos Central: no answer in time"
	case errors.As(err, &ae):
		return fmt.Sprintf("the credentials could not be checked (%s answered HTTP %d)", ae.Op, ae.Status)
	case errors.As(err, &ne):
		return "cannot reach Sophos Central: network error"
	}
	return "the credentials could not be checked"
}

func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// readSecret reads without echo from a terminal, or a line from anything
// else (scripts, tests).
func readSecret(stdin io.Reader, buffered *bufio.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) && buffered.Buffered() == 0 {
		b, err := term.ReadPassword(int(f.Fd()))
		return strings.TrimSpace(string(b)), err
	}
	return readLine(buffered)
}
