// Package match decides which SIEM events are PUA detections puawatch
// reports, and turns a matched event into a store.Detection.
//
// An event is a detection when its type matches one of the detection types
// (exact names or globs such as "*Pua*Detect*", without regard to case:
// package glob has the syntax); with follow-ups
// on, an event whose type matches a follow-up type (clean-up failed,
// restore, ...) is reported as its own kind. Optional group and severity
// lists narrow both further.
package match

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/store"
)

// DefaultTypes are the PUA detection event types.
func DefaultTypes() []string {
	return []string{
		"Event::Endpoint::Threat::PuaDetected",
		"Event::Endpoint::HmpaPuaDetected",
		"Event::Endpoint::CorePuaDetection",
		"Event::Endpoint::CorePuaRemoteDetection",
		"Event::Endpoint::HomePuaRemnantsDetected",
	}
}

// DefaultFollowUpTypes are the PUA follow-ups worth a message of their own:
// clean-up failures, reboots and restores.
func DefaultFollowUpTypes() []string {
	return []string{
		"Event::Endpoint::CorePuaCleanFailed",
		"Event::Endpoint::Threat::PuaCleanupFailed",
		"Event::Endpoint::CorePuaRestore",
		"Event::Endpoint::CorePuaRestoreFailed",
		"Event::Endpoint::CorePuaReboot",
	}
}

// Config says what matches.
type Config struct {
	Types         []string // detection types, exact or glob (package glob); empty: DefaultTypes
	FollowUps     bool     // also report follow-ups
	FollowUpTypes []string // follow-up types, exact or glob (package glob); empty: DefaultFollowUpTypes
	Groups        []string // when set, the event's group must be one of these (any case)
	Severities    []string // when set, the event's severity must be one of these (any case)
}

// Matcher matches events. It is immutable and safe for concurrent use.
type Matcher struct {
	types, followUps glob.List
	groups, sevs     map[string]bool
}

// New checks c and makes a Matcher.
func New(c Config) (*Matcher, error) {
	m := &Matcher{groups: map[string]bool{}, sevs: map[string]bool{}}
	types, followUps := c.Types, []string(nil)
	if len(types) == 0 {
		types = DefaultTypes()
	}
	if c.FollowUps {
		followUps = c.FollowUpTypes
		if len(followUps) == 0 {
			followUps = DefaultFollowUpTypes()
		}
	}
	var err error
	if m.types, err = glob.CompileList(types); err != nil {
		return nil, fmt.Errorf("match.types%w", err)
	}
	if m.followUps, err = glob.CompileList(followUps); err != nil {
		return nil, fmt.Errorf("match.follow_up_types%w", err)
	}
	for _, g := range c.Groups {
		m.groups[strings.ToUpper(strings.TrimSpace(g))] = true
	}
	for _, s := range c.Severities {
		s = strings.ToLower(strings.TrimSpace(s))
		switch s {
		case "none", "low", "medium", "high", "critical":
		default:
			return nil, fmt.Errorf("match.severities: %q is not a severity: use none, low, medium, high or critical", s)
		}
		m.sevs[s] = true
	}
	return m, nil
}

// Match tells whether e is reported and as which kind
// (store.KindDetection or store.KindFollowUp).
func (m *Matcher) Match(e central.Event) (kind string, ok bool) {
	switch {
	case m.types.MatchAny(e.Type):
		kind = store.KindDetection
	case m.followUps.MatchAny(e.Type):
		kind = store.KindFollowUp
	default:
		return "", false
	}
	if len(m.groups) > 0 && !m.groups[strings.ToUpper(e.Group)] {
		return "", false
	}
	if len(m.sevs) > 0 && !m.sevs[strings.ToLower(e.Severity)] {
		return "", false
	}
	return kind, true
}

// pathInName finds the path in messages such as
// "PUA detected: 'X' at 'C:\p'" or "... in network location '\\s\p' ...".
var pathInName = regexp.MustCompile(`(?: at |network location )'(.*)'`)

// PathOf is the file path an event names: from its message, its clean-up
// items or its details; "" when it names none.
func PathOf(e central.Event) string {
	if m := pathInName.FindStringSubmatch(e.Name); m != nil {
		return m[1]
	}
	if e.CoreRemedyItems != nil {
		for _, it := range e.CoreRemedyItems.Items {
			if it.Descriptor != "" {
				return it.Descriptor
			}
		}
	}
	for _, d := range e.Details {
		switch d.Type {
		case "HOME_REMNANT_PATHS", "HMPA_PROCESS_PATH":
			return d.Property
		}
	}
	return ""
}

// ToDetection makes the stored form of a matched event of a tenant.
func ToDetection(e central.Event, kind string, tenant central.Tenant, seen time.Time) store.Detection {
	raw := []byte(e.Raw)
	return store.Detection{
		EventID:      e.ID,
		TenantID:     tenant.ID,
		TenantName:   tenant.DisplayName(),
		Kind:         kind,
		Type:         e.Type,
		Name:         e.Name,
		Severity:     strings.ToLower(e.Severity),
		Threat:       e.ThreatName(),
		Location:     e.Location,
		User:         e.Source,
		EndpointID:   e.EndpointID,
		EndpointType: e.EndpointType,
		Path:         PathOf(e),
		When:         e.When.UTC(),
		CreatedAt:    e.CreatedAt.UTC(),
		SeenAt:       seen.UTC(),
		Raw:          raw,
	}
}
