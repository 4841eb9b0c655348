package central

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/secret"
)

// Credentials are an API credential of Sophos Central.
type Credentials struct {
	ClientID     string
	ClientSecret secret.Secret
}

// ID types whoami returns.
const (
	IDTypeTenant       = "tenant"
	IDTypePartner      = "partner"
	IDTypeOrganization = "organization"
)

// Whoami is who the credential is.
type Whoami struct {
	ID            string // tenant, partner or organization id
	IDType        string // IDTypeTenant, IDTypePartner or IDTypeOrganization
	GlobalURL     string // apiHosts.global, without a trailing slash
	DataRegionURL string // apiHosts.dataRegion (tenant credentials only)
}

// Tenant is a tenant the credential can read.
type Tenant struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	ShowAs        string `json:"showAs"`
	DataRegion    string `json:"dataRegion"`
	DataGeography string `json:"dataGeography"`
	BillingType   string `json:"billingType"`
	APIHost       string `json:"apiHost"`
	Status        string `json:"status"`
}

// DisplayName is the name people know the tenant by.
func (t Tenant) DisplayName() string {
	switch {
	case t.ShowAs != "":
		return t.ShowAs
	case t.Name != "":
		return t.Name
	}
	return t.ID
}

// EventsRequest asks for one page of a tenant's SIEM events.
type EventsRequest struct {
	Tenant       Tenant    // ID and APIHost are used
	Cursor       string    // from the previous page; wins over FromDate
	FromDate     time.Time // used when Cursor is empty; zero: the API's default (last 24 h)
	Limit        int       // 0: the API's default (200); at most 1000
	ExcludeTypes []string  // event types the API leaves out
	OffsetMins   int       // from_date_offset_minutes: hold back the newest minutes
}

// Page is one page of SIEM events.
type Page struct {
	Items      []Event
	HasMore    bool
	NextCursor string
}

// Event is one SIEM event. Nullable fields are pointers; Raw keeps the
// item as the API sent it.
type Event struct {
	ID              string            `json:"id"`
	Type            string            `json:"type"`
	Name            string            `json:"name"`
	Severity        string            `json:"severity"`
	Group           string            `json:"group"`
	Location        string            `json:"location"`
	Source          string            `json:"source"`
	SourceInfo      map[string]any    `json:"source_info"`
	CustomerID      string            `json:"customer_id"`
	EndpointID      string            `json:"endpoint_id"`
	EndpointType    string            `json:"endpoint_type"`
	UserID          *string           `json:"user_id"`
	When            time.Time         `json:"when"`
	CreatedAt       time.Time         `json:"created_at"`
	Threat          *string           `json:"threat"`
	Origin          *string           `json:"origin"`
	AppSha256       *string           `json:"appSha256"`
	CoreRemedyItems *RemedyItems      `json:"core_remedy_items"`
	Details         []Detail          `json:"details"`
	Raw             json.RawMessage   `json:"-"`
	Extra           map[string]string `json:"-"`
}

// RemedyItems is core_remedy_items.
type RemedyItems struct {
	Items      []RemedyItem `json:"items"`
	TotalItems int          `json:"totalItems"`
}

// RemedyItem is one clean-up item.
type RemedyItem struct {
	Type       string `json:"type"`
	Result     string `json:"result"`
	Descriptor string `json:"descriptor"`
}

// Detail is one entry of details.
type Detail struct {
	Type     string `json:"type"`
	Property string `json:"property"`
}

// ThreatName is the threat, or "" when the event has none.
func (e Event) ThreatName() string {
	if e.Threat == nil {
		return ""
	}
	return *e.Threat
}

// APIError is an answer of Sophos Central other than 2xx.
type APIError struct {
	Op       string // what was asked: "token", "whoami", "tenants", "events"
	TenantID string // for tenant calls
	Status   int
	Code     string // error or errorCode of the body
	Message  string
}

// Error says what was asked, of which tenant, and what came back:
// "central: whoami: HTTP 401 ...". It names the operation, so callers
// need not (and should not) name it again.
func (e *APIError) Error() string {
	s := fmt.Sprintf("central: %s: HTTP %d", e.Op, e.Status)
	if e.TenantID != "" {
		s = fmt.Sprintf("central: %s (tenant %s): HTTP %d", e.Op, e.TenantID, e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" && e.Message != e.Code {
		s += ": " + e.Message
	}
	return s
}

// RateLimitedError is a 429 that outlasted the retries.
type RateLimitedError struct {
	APIError
	RetryAfter time.Duration
}

// Error is the APIError's text with the Retry-After.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s (retry after %s)", e.APIError.Error(), e.RetryAfter)
}

// Unwrap gives the APIError.
func (e *RateLimitedError) Unwrap() error { return &e.APIError }
