package store

import "context"

// RetryIDs lists the ids of a receiver's (channel's) rows to send again
// on an operator's request: its dead rows and its pending rows whose last
// attempt failed, not those waiting for their group's first message. The
// list is never nil (a nil ids asks Requeue for every dead row), so
// Requeue(ctx, ids, at) requeues exactly these. `puawatch outbox retry
// --receiver` and the dashboard's retry both use it.
func RetryIDs(ctx context.Context, st Store, channel string) ([]int64, error) {
	items, err := st.Outbox(ctx, OutboxFilter{States: []string{StateDead, StatePending}, Channel: channel})
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for _, it := range items {
		if it.State == StateDead || it.Attempts > 0 {
			ids = append(ids, it.ID)
		}
	}
	return ids, nil
}
