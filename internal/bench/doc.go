// Package bench is `puawatch bench`: it measures the watcher against the
// simulator, each in its own process, and puts the figures in one table.
//
// Every scenario starts `puawatch sim --banner json` on free loopback
// ports (the documented rate limits, no faults but the latency a scenario
// asks for, --hostile-share 0), reads the credentials from its control
// API, and runs the watcher as a child process with a fresh SQLite store
// and a JSONL receiver in a temporary directory:
//
//   - backlog: `puawatch run --once` drains N tenants x M events; beside
//     it, "the limit": `puawatch bench limit` fetches and decodes the same
//     feed with 8 workers and central.Client.Events, nothing else, as its
//     own process so that its CPU and memory are measured the same way.
//     The ratio is the watcher's over the limit's.
//   - idle: a first `run --once` drains a thousand tenants at 20 ms of
//     latency a request; the second, timed one finds nothing new. It must
//     meet no 429.
//   - live: the daemon at a 1 s interval against a steady stream, an
//     in-process smtpcapture receiving its mail; the latency is from an
//     event's created_at (the simulator's clock, which is this machine's)
//     to the moment the SMTP server accepted the mail that carried it.
//
// Wall time, CPU seconds and peak RSS are the child's (os.ProcessState
// and its rusage); API calls and 429s are the simulator's counters
// (GET /sim/v1/counters) over the run; detections are the lines of the
// JSONL file, checked against what the simulator generated (its counters,
// matched with the watcher's own matcher). Goroutines are the peak of the
// daemon's /metrics go_goroutines; `run --once` serves no /metrics, so
// its rows have none.
package bench
