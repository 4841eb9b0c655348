// Package e2e runs puawatch whole against the simulator over loopback
// HTTP, a real SMTP server and a real SQLite store: the in-process daemon
// (app) and the built binary killed with SIGKILL at random points.
package e2e
