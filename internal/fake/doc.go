// Package fake has no code of its own: it is the root of puawatch's test
// doubles, which are kept apart from the product's packages.
//
//   - sim is a faithful simulator of Sophos Central (OAuth2 token,
//     whoami, tenants, SIEM events and alerts, faults), used by the tests,
//     by `puawatch sim` and by the demo; sim/gen derives its tenants and
//     events from a seed.
//   - smtpcapture is a real SMTP server (emersion/go-smtp) run in-process
//     that keeps what it is sent, used by the tests and by the demo.
//
// Product code may import these packages (the cli does, for `puawatch
// sim` and the demo), but no package under internal/fake imports a
// puawatch package outside it: a double must not share code with what it
// stands in for, or a bug in that code would be on both sides of a test
// and go unseen. In particular the simulator imports nothing of
// internal/central, the client it tests. imports_test.go enforces this.
package fake
