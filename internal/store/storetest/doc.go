// Package storetest is the conformance suite every store.Store backend
// must pass. A backend's test calls Run with a function that opens a new,
// empty store for each subtest (and closes it in t.Cleanup):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
//
// RunDashboard does the same for a backend's store.Dashboard: filters,
// sorting, paging, hostile text, delivery states, the overview's counts
// and buckets, a detection's detail, acknowledgements, and the attempts
// MarkSent, MarkRetry and MarkDead record.
//
// The subtests run in parallel, so open must be safe to call from several
// goroutines and must give each call a store of its own.
//
// The suite pins down what store.go leaves to prose: times come back in
// UTC truncated to the millisecond and a zero time comes back zero; text
// round-trips byte-exact as long as it is valid UTF-8 without NUL (NUL and
// invalid bytes become U+FFFD); Raw round-trips byte-exact; a failed
// CommitPage writes nothing; claims are exclusive and leases lapse.
package storetest
