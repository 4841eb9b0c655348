package sim

import "github.com/puawatch/puawatch/internal/fake/sim/gen"

// The event types are defined in package gen, which derives events; they
// are aliased here so that users of the simulator need not import gen.

// Event is one SIEM event as the simulator holds it. Pointer and slice
// fields are nullable: nil is written as an explicit JSON null, as real
// payloads do.
type Event = gen.Event

// AppCert is one entry of appCerts.
type AppCert = gen.AppCert

// RemedyItem is one entry of core_remedy_items.items.
type RemedyItem = gen.RemedyItem

// Detail is one entry of details.
type Detail = gen.Detail

// Event types of the PUA family (§9 of the API notes).
const (
	TypeCorePuaDetection        = gen.TypeCorePuaDetection
	TypeCorePuaRemoteDetection  = gen.TypeCorePuaRemoteDetection
	TypeCorePuaClean            = gen.TypeCorePuaClean
	TypeCorePuaCleanFailed      = gen.TypeCorePuaCleanFailed
	TypeCorePuaCleanNothing     = gen.TypeCorePuaCleanNothing
	TypeCorePuaReboot           = gen.TypeCorePuaReboot
	TypeCorePuaRestore          = gen.TypeCorePuaRestore
	TypeCorePuaRestoreFailed    = gen.TypeCorePuaRestoreFailed
	TypeThreatPuaDetected       = gen.TypeThreatPuaDetected
	TypeThreatPuaCleanedUp      = gen.TypeThreatPuaCleanedUp
	TypeThreatPuaDismissed      = gen.TypeThreatPuaDismissed
	TypeThreatPuaCleanupFailed  = gen.TypeThreatPuaCleanupFailed
	TypeHmpaPuaDetected         = gen.TypeHmpaPuaDetected
	TypeHmpaPuaCleanup          = gen.TypeHmpaPuaCleanup
	TypeHomePuaRemnantsDetected = gen.TypeHomePuaRemnantsDetected
	TypeHomePuaRemnantsDeleted  = gen.TypeHomePuaRemnantsDeleted
)

// DetectionTypes are the PUA detection types: the events puawatch must
// report by default.
var DetectionTypes = []string{
	TypeCorePuaDetection, TypeCorePuaRemoteDetection, TypeThreatPuaDetected,
	TypeHmpaPuaDetected, TypeHomePuaRemnantsDetected,
}

// alertTypes are the action-required types for which /siem/v1/alerts has
// an item.
var alertTypes = map[string]bool{
	TypeCorePuaRemoteDetection:               true,
	TypeCorePuaCleanFailed:                   true,
	TypeCorePuaRestoreFailed:                 true,
	TypeThreatPuaCleanupFailed:               true,
	"Event::Endpoint::CoreCleanFailed":       true,
	"Event::Endpoint::CoreRemoteDetection":   true,
	"Event::Endpoint::Threat::CleanupFailed": true,
}

// IsAlertType reports whether events of type t raise an alert.
func IsAlertType(t string) bool { return alertTypes[t] }
