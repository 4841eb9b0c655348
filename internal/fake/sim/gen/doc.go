// Package gen is the simulator's data generator, part of the test doubles
// under internal/fake: it derives realistic Sophos Central tenants,
// endpoints and SIEM events from a seed for package sim.
//
// Every value is a pure function of (seed, tenant index, event sequence
// number), so the same seed always gives the same data, and a Generator is
// immutable and safe for concurrent use. Events cover the PUA family and a
// share of other types (Options.OtherShare), and a share of them carry
// hostile endpoint-supplied values (markup, quotes, CR/LF, CEF
// metacharacters, long and non-ASCII paths; Options.HostileShare).
//
// Event and the Type constants are defined here because the generator
// makes them; package sim aliases them. gen imports nothing of puawatch,
// sim included.
package gen
