package gen

import "time"

// Event is one SIEM event as the generator derives it and the simulator
// holds it (the simulator's sim.Event is this type). Pointer and slice
// fields are nullable: nil is written as an explicit JSON null, as real
// payloads do.
type Event struct {
	ID              string       `json:"id"`
	Type            string       `json:"type"`
	Name            string       `json:"name"`
	Severity        string       `json:"severity"`
	Group           string       `json:"group"`
	Location        string       `json:"location"`
	Source          string       `json:"source"`
	SourceIP        string       `json:"source_ip,omitempty"` // written as source_info.ip
	CustomerID      string       `json:"customer_id"`
	EndpointID      string       `json:"endpoint_id"`
	EndpointType    string       `json:"endpoint_type"`
	UserID          *string      `json:"user_id"`
	When            time.Time    `json:"when"`
	CreatedAt       time.Time    `json:"created_at"`
	Threat          *string      `json:"threat"`
	Origin          *string      `json:"origin"`
	AppSha256       *string      `json:"appSha256"`
	AppCerts        []AppCert    `json:"appCerts"`
	CoreRemedyItems []RemedyItem `json:"core_remedy_items"` // written as {"items":[...],"totalItems":n}
	Details         []Detail     `json:"details,omitempty"`
}

// AppCert is one entry of appCerts.
type AppCert struct {
	Signer     string `json:"signer"`
	Thumbprint string `json:"thumbprint"`
}

// RemedyItem is one entry of core_remedy_items.items.
type RemedyItem struct {
	Type          string `json:"type"`
	Result        string `json:"result"`
	SuspendResult string `json:"suspendResult"`
	Descriptor    string `json:"descriptor"`
}

// Detail is one entry of details.
type Detail struct {
	Type     string `json:"type"`
	Property string `json:"property"`
}

// Event types of the PUA family (§9 of the API notes).
const (
	TypeCorePuaDetection        = "Event::Endpoint::CorePuaDetection"
	TypeCorePuaRemoteDetection  = "Event::Endpoint::CorePuaRemoteDetection"
	TypeCorePuaClean            = "Event::Endpoint::CorePuaClean"
	TypeCorePuaCleanFailed      = "Event::Endpoint::CorePuaCleanFailed"
	TypeCorePuaCleanNothing     = "Event::Endpoint::CorePuaCleanNothingFound"
	TypeCorePuaReboot           = "Event::Endpoint::CorePuaReboot"
	TypeCorePuaRestore          = "Event::Endpoint::CorePuaRestore"
	TypeCorePuaRestoreFailed    = "Event::Endpoint::CorePuaRestoreFailed"
	TypeThreatPuaDetected       = "Event::Endpoint::Threat::PuaDetected"
	TypeThreatPuaCleanedUp      = "Event::Endpoint::Threat::PuaCleanedUp"
	TypeThreatPuaDismissed      = "Event::Endpoint::Threat::PuaDismissed"
	TypeThreatPuaCleanupFailed  = "Event::Endpoint::Threat::PuaCleanupFailed"
	TypeHmpaPuaDetected         = "Event::Endpoint::HmpaPuaDetected"
	TypeHmpaPuaCleanup          = "Event::Endpoint::HmpaPuaCleanup"
	TypeHomePuaRemnantsDetected = "Event::Endpoint::HomePuaRemnantsDetected"
	TypeHomePuaRemnantsDeleted  = "Event::Endpoint::HomePuaRemnantsDeleted"
)
