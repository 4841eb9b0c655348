// Package perevent benchmarks the per-event path of the watcher: decode a
// SIEM page as the simulator sends it, match its events, build the
// detections and commit the page to a real SQLite store, each stage on its
// own and all together, reporting ns/event and allocations.
package perevent
