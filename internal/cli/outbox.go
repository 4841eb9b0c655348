package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/spf13/cobra"
)

func newOutboxCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "outbox", Short: "List notifications waiting, sent or dead, and retry dead ones"}
	var cf configFlags
	var db string
	var states []string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List outbox rows, newest first (default: pending and dead)",
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, s := range states {
				if s != store.StatePending && s != store.StateSent && s != store.StateDead {
					return usagef("--state %q is not pending, sent or dead", s)
				}
			}
			st, err := openStore(cmd, e, &cf, db)
			if err != nil {
				return err
			}
			defer st.Close()
			items, err := st.Outbox(cmd.Context(), store.OutboxFilter{States: states, Limit: limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tRECEIVER\tTENANT\tEVENT ID\tATTEMPTS\tNEXT (UTC)\tLAST ERROR")
			for _, it := range items {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.State, cell(it.Channel, 20), cell(it.Detection.TenantName, 24),
					cell(it.EventID, 40), it.Attempts, it.NextAt.UTC().Format(time.DateTime), cell(it.LastError, 200))
			}
			return tw.Flush()
		},
	}
	cf.register(list)
	list.Flags().StringVar(&db, "db", "", "store to read (default: PUAWATCH_DB, else store.db of the configuration, else puawatch.db in the state directory)")
	list.Flags().StringSliceVar(&states, "state", []string{store.StatePending, store.StateDead}, "states to list: pending, sent, dead")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many rows (0: all)")

	var all bool
	var rcf configFlags
	var rdb, receiver string
	retry := &cobra.Command{
		Use:   "retry ID... | --all | --receiver NAME",
		Short: "Send dead (or pending) rows again now",
		Long: `Make outbox rows due now again, with a fresh retry budget: the rows named
by id (dead or pending), every dead row (--all), or a receiver's dead rows and
its rows waiting for a retry after a failed attempt (--receiver NAME). The next
run sends them, each in the message it was composed in.`,
		Args: func(cmd *cobra.Command, args []string) error {
			given := 0
			for _, b := range []bool{len(args) > 0, all, receiver != ""} {
				if b {
					given++
				}
			}
			if given != 1 {
				return flagError{fmt.Errorf("give outbox row ids, --all or --receiver NAME: exactly one of them")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return usagef("%q is not an outbox row id (see puawatch outbox list)", a)
				}
				ids = append(ids, id)
			}
			st, err := openStore(cmd, e, &rcf, rdb)
			if err != nil {
				return err
			}
			defer st.Close()
			if receiver != "" {
				if ids, err = store.RetryIDs(cmd.Context(), st, receiver); err != nil {
					return err
				}
				if len(ids) == 0 {
					fmt.Fprintf(e.stdout, "receiver %s has no dead or failed notification to send again\n", cell(receiver, 64))
					return nil
				}
			}
			n, err := st.Requeue(cmd.Context(), ids, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d row(s) due again: the next run sends them\n", n)
			if receiver == "" && n < len(ids) {
				fmt.Fprintf(e.stdout, "%d row(s) were already sent: a sent notification is not sent again\n", len(ids)-n)
			}
			return nil
		},
	}
	rcf.register(retry)
	retry.Flags().StringVar(&rdb, "db", "", "store to change (default: PUAWATCH_DB, else store.db of the configuration, else puawatch.db in the state directory)")
	retry.Flags().BoolVar(&all, "all", false, "every dead row")
	retry.Flags().StringVar(&receiver, "receiver", "", "the receiver's dead rows and its rows waiting for a retry after a failure")
	c.AddCommand(list, retry)
	return c
}

// openStore opens the store named by --db, PUAWATCH_DB or the
// configuration (by default in the state directory), and says so on
// stderr when it had to create a new one.
func openStore(cmd *cobra.Command, e *env, cf *configFlags, db string) (*sqlstore.Store, error) {
	if db == "" {
		db = e.getenv("PUAWATCH_DB")
	}
	st := config.Store{DB: db}
	if db == "" {
		cfg, err := cf.load(e)
		if err != nil {
			return nil, err
		}
		st = cfg.Store
	}
	if err := st.MakeStateDir(); err != nil {
		return nil, err
	}
	return sqlstore.Open(cmd.Context(), st.DB, sqlstore.WithCreated(e.newStore))
}
