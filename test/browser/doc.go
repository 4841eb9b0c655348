// Package browser holds the dashboard's browser tests: a real headless
// Chromium (Debian's chromium, driven by chromedp) against the dashboard
// that app.Run serves, reading the simulator (internal/fake/sim, hostile
// endpoint strings on) into a real SQLite store. They check what a person
// sees against the store, that the simulator's markup stays text, that
// acknowledging works and a forged cross-site request does not, and that
// a server off loopback asks for credentials. Each page's screenshot is
// saved to screenshots/ (ignored by git). The tests fail, not skip, when
// chromium is missing: .ci/run installs it.
package browser
