package cli

import (
	"fmt"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/spf13/cobra"
)

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check the configuration"}
	var cf configFlags
	var connect bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print it with secrets redacted",
		Long: `Load the configuration file, the environment and the stored credentials,
validate them, and print the effective configuration with every secret
redacted. With --connect it also fetches a token and asks whoami, which
proves the credentials. Exit status 2 when the configuration is not usable.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load(e)
			if err != nil {
				return err
			}
			// The receivers are built as run builds them (and closed
			// again), so that what run would refuse is refused here.
			recv, err := app.BuildReceivers(cfg, e.stdout)
			if err != nil {
				return usageError{err}
			}
			_ = recv.Close()
			fmt.Fprint(e.stdout, cfg.Redacted())
			fmt.Fprintln(e.stdout, "# configuration OK")
			if !connect {
				return nil
			}
			client, err := app.NewClient(cfg, logger(e.stderr, cfg.Log))
			if err != nil {
				return err // an *app.ConfigError: exit 2
			}
			if err := checkCredentials(cmd, e, client); err != nil {
				if app.CredentialsRejected(err) {
					return usageError{err}
				}
				return err
			}
			return nil
		},
	}
	cf.register(check)
	check.Flags().BoolVar(&connect, "connect", false, "also check the credentials against Sophos Central")
	c.AddCommand(check)
	return c
}

// checkCredentials asks whoami (and the tenant list) and says what the
// credential is.
func checkCredentials(cmd *cobra.Command, e *env, client *central.Client) error {
	who, err := client.Whoami(cmd.Context())
	if err != nil {
		return err
	}
	switch who.IDType {
	case central.IDTypeTenant:
		fmt.Fprintf(e.stdout, "credential: tenant %s (region host %s)\n", who.ID, who.DataRegionURL)
	default:
		ts, err := client.Tenants(cmd.Context(), who)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "credential: %s %s, %d tenants\n", who.IDType, who.ID, len(ts))
	}
	return nil
}
