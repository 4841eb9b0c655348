package cli

import (
	"errors"
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/spf13/cobra"
)

func newAckCmd(e *env) *cobra.Command {
	var cf configFlags
	var db, comment, by string
	c := &cobra.Command{
		Use:   "ack ID...",
		Short: "Acknowledge detections: who, when and why, so a team can work through them",
		Long: `Acknowledge the detections with the given event ids (see puawatch detections
--unacked), with a comment and the name of who did it (default: $USER, else the
OS user). A detection acknowledged before keeps its first acknowledgement; it is
reported on stderr. If any id names no stored detection, nothing is
acknowledged and the command exits 2 naming those ids.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("give the event ids of the detections to acknowledge (see puawatch detections --unacked)")
			}
			if by == "" {
				by = e.getenv("USER")
			}
			if by == "" {
				if u, err := user.Current(); err == nil {
					by = u.Username
				}
			}
			if strings.TrimSpace(by) == "" {
				return usagef("--by: no user name known (USER is not set): give --by NAME")
			}
			st, err := openStore(cmd, e, &cf, db)
			if err != nil {
				return err
			}
			defer st.Close()
			at := time.Now()
			n, err := st.AckDetections(cmd.Context(), args, by, comment, at)
			if errors.Is(err, store.ErrNotFound) {
				return usageError{fmt.Errorf("%w; see puawatch detections for the stored ids", err)}
			}
			if err != nil {
				return err
			}
			// Those not acknowledged now were before: say by whom.
			if n < len(args) {
				seen := map[string]bool{}
				for _, id := range args {
					if seen[id] {
						continue
					}
					seen[id] = true
					dd, err := st.DetectionDetail(cmd.Context(), id)
					if err != nil {
						return err
					}
					if a := dd.Ack; a != nil && !(a.By == by && a.Comment == comment && a.At.Equal(at.UTC().Truncate(time.Millisecond))) {
						fmt.Fprintf(e.stderr, "puawatch: detection %s was already acknowledged by %s at %s: its first acknowledgement is kept\n",
							cell(id, 80), cell(a.By, 64), render.Timestamp(a.At))
					}
				}
			}
			fmt.Fprintf(e.stdout, "acknowledged %d detection(s) as %s\n", n, cell(by, 64))
			return nil
		},
	}
	cf.register(c)
	c.Flags().StringVar(&comment, "comment", "", "why (shown beside the acknowledgement)")
	c.Flags().StringVar(&by, "by", "", "who acknowledges (default: $USER, else the OS user)")
	c.Flags().StringVar(&db, "db", "", "store to change (default: PUAWATCH_DB, else store.db of the configuration, else puawatch.db in the state directory)")
	return c
}
