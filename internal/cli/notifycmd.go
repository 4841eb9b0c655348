package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/spf13/cobra"
)

func newNotifyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "notify", Short: "Check notification receivers"}
	var cf configFlags
	test := &cobra.Command{
		Use:   "test RECEIVER",
		Short: "Send a sample detection through a configured receiver and report the result",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return flagError{fmt.Errorf("name one receiver (see receivers in the configuration; the email and jsonl sections are \"email\" and \"jsonl\")")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load(e)
			if err != nil {
				return err
			}
			name := args[0]
			if !slices.Contains(cfg.ReceiverNames(), name) {
				return usagef("no receiver named %q (known: %v)", name, cfg.ReceiverNames())
			}
			recv, err := app.BuildReceivers(cfg, e.stdout)
			if err != nil {
				return usageError{err}
			}
			defer recv.Close()
			m := render.SampleMessage()
			m.Channel = name
			m.Key = fmt.Sprintf("puawatch-test.%s.%d", name, time.Now().UnixNano())
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			if err := recv.Notifiers[name].Notify(ctx, m); err != nil {
				kind := "temporary: puawatch would retry"
				if notify.IsPermanent(err) {
					kind = "permanent: puawatch would not retry"
				}
				return fmt.Errorf("receiver %s: %w (%s)", name, err, kind)
			}
			fmt.Fprintf(e.stdout, "receiver %s accepted the sample detection\n", name)
			return nil
		},
	}
	cf.register(test)
	c.AddCommand(test)
	return c
}
