package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newLoginCmd(e *env) *cobra.Command {
	var authURL, apiURL, path string
	c := &cobra.Command{
		Use:   "login",
		Short: "Ask for the API client id and secret once, check them, and keep them for `run`",
		Long: `Ask for the client id and secret of a Sophos Central API credential (the
secret is not echoed), check them against the token endpoint and whoami,
print the credential type (and for a partner or organization how many
tenants it sees), and store them in a file only you can read, in your
config directory. ` + "`puawatch run`" + ` uses them when neither the configuration
nor the environment names a credential.`,
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
			client, err := central.New(central.Credentials{ClientID: id, ClientSecret: secret.Secret(sec)},
				central.Options{AuthURL: authURL, APIURL: apiURL, Timeout: 30 * time.Second})
			if err != nil {
				return usageError{err}
			}
			if err := checkCredentials(cmd, e, client); err != nil {
				return fmt.Errorf("the credentials were not accepted, nothing stored: %w", err)
			}
			sc := config.StoredCredentials{ClientID: id, ClientSecret: secret.Secret(sec)}
			if authURL != config.DefaultAuthURL {
				sc.AuthURL = authURL
			}
			if apiURL != config.DefaultAPIURL {
				sc.APIURL = apiURL
			}
			if err := config.SaveCredentials(path, sc); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "stored in %s (readable only by you)\n", path)
			return nil
		},
	}
	c.Flags().StringVar(&authURL, "auth-url", config.DefaultAuthURL, "token endpoint")
	c.Flags().StringVar(&apiURL, "api-url", config.DefaultAPIURL, "global API host")
	c.Flags().StringVar(&path, "credentials", "", "where to keep them (default: in the user's config directory)")
	return c
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
