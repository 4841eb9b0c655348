// Package route decides which receivers get a detection and how it is
// grouped there, in the spirit of Alertmanager's routing tree but simpler.
//
// A tree of routes starts at a root that matches every detection. A
// detection walks down: a child route whose match holds takes it (and,
// unless it says continue, its later siblings are not tried); a route
// that no child took delivers to its own receivers. So the partner case
// reads:
//
//	route:
//	  receivers: [soc]              # everything that no route below takes
//	  routes:
//	    - match: {tenant: ["Contoso*"]}
//	      receivers: [contoso-it, soc]
//	    - match: {tenant: ["Fabrikam*"]}
//	      receivers: [fabrikam-it, soc]
//
// Grouping settings (group_by, group_wait, group_interval, digest_above,
// max_per_message) are inherited by child routes unless they set their
// own.
package route

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/store"
)

// Match is what a route matches. Every non-empty list must hold (AND);
// within a list one value is enough (OR). Values are patterns in package
// glob's syntax (* ? [a-z], without regard to case); an empty detection
// field matches none.
type Match struct {
	Tenant       []string `yaml:"tenant,omitempty"`        // tenant id or name
	Type         []string `yaml:"type,omitempty"`          // event type
	Severity     []string `yaml:"severity,omitempty"`      // low, medium, high, ...
	Threat       []string `yaml:"threat,omitempty"`        // threat name
	EndpointType []string `yaml:"endpoint_type,omitempty"` // computer, server, ...
}

// Spec is a route as configured (YAML). Its durations are package
// duration's, read by the same rules as every other duration of the
// configuration ("30s", "5m"; a bare number but 0 is an error).
type Spec struct {
	Match         Match              `yaml:"match,omitempty"`
	Receivers     []string           `yaml:"receivers,omitempty"`
	Continue      bool               `yaml:"continue,omitempty"`
	GroupBy       []string           `yaml:"group_by,omitempty"`        // tenant, endpoint, threat, type; nil: inherited
	GroupWait     *duration.Duration `yaml:"group_wait,omitempty"`      // nil: inherited
	GroupInterval *duration.Duration `yaml:"group_interval,omitempty"`  // nil: inherited
	DigestAbove   *int               `yaml:"digest_above,omitempty"`    // nil: inherited
	MaxPerMessage *int               `yaml:"max_per_message,omitempty"` // nil: inherited
	Routes        []Spec             `yaml:"routes,omitempty"`
}

// Grouping says how one route's detections are put into messages.
type Grouping struct {
	By            []string      // fields whose values make the group
	Wait          time.Duration // before a group's first message
	Interval      time.Duration // between a group's messages
	DigestAbove   int           // more due detections than this: digests
	MaxPerMessage int           // detections in one digest at most
}

// DefaultGrouping is the root's grouping unless configured: per tenant,
// sent at once, one message per detection up to 3 due together, digests
// of at most 100 above that.
func DefaultGrouping() Grouping {
	return Grouping{By: []string{"tenant"}, DigestAbove: 3, MaxPerMessage: 100}
}

// GroupFields are the fields group_by accepts.
func groupFields() []string { return []string{"tenant", "endpoint", "threat", "type"} }

// Tree is a validated routing tree.
type Tree struct{ root *node }

type node struct {
	match     matcher
	receivers []string
	cont      bool
	group     Grouping
	children  []*node
}

// New validates spec against the receiver names and builds the tree.
// The root's match must be empty: it takes every detection.
func New(spec Spec, receivers []string, defaults Grouping) (*Tree, error) {
	known := map[string]bool{}
	for _, r := range receivers {
		known[r] = true
	}
	if !isEmpty(spec.Match) {
		return nil, fmt.Errorf("route.match: the root route takes every detection: move the match into route.routes")
	}
	root, err := build(spec, defaults, known, "route")
	if err != nil {
		return nil, err
	}
	if len(root.receivers) == 0 && len(root.children) == 0 && len(receivers) > 0 {
		return nil, fmt.Errorf("route.receivers: empty: name the receivers that get what no other route takes")
	}
	return &Tree{root: root}, nil
}

func isEmpty(m Match) bool {
	return len(m.Tenant)+len(m.Type)+len(m.Severity)+len(m.Threat)+len(m.EndpointType) == 0
}

func build(s Spec, parent Grouping, known map[string]bool, at string) (*node, error) {
	g := parent
	if s.GroupBy != nil {
		g.By = nil
		for i, f := range s.GroupBy {
			f = strings.ToLower(strings.TrimSpace(f))
			if !slices.Contains(groupFields(), f) {
				return nil, fmt.Errorf("%s.group_by[%d]: %q is not one of %s", at, i, s.GroupBy[i], strings.Join(groupFields(), ", "))
			}
			g.By = append(g.By, f)
		}
	}
	if s.GroupWait != nil {
		g.Wait = s.GroupWait.Std()
	}
	if s.GroupInterval != nil {
		g.Interval = s.GroupInterval.Std()
	}
	if s.DigestAbove != nil {
		g.DigestAbove = *s.DigestAbove
	}
	if s.MaxPerMessage != nil {
		g.MaxPerMessage = *s.MaxPerMessage
	}
	switch {
	case g.Wait < 0 || g.Interval < 0:
		return nil, fmt.Errorf("%s: group_wait and group_interval must not be negative", at)
	case g.DigestAbove < 0:
		return nil, fmt.Errorf("%s.digest_above: %d is negative: use 0 to send every group as a digest", at, g.DigestAbove)
	case g.MaxPerMessage < 1:
		return nil, fmt.Errorf("%s.max_per_message: %d must be at least 1", at, g.MaxPerMessage)
	}
	m, err := compileMatch(s.Match, at)
	if err != nil {
		return nil, err
	}
	n := &node{match: m, cont: s.Continue, group: g}
	for i, r := range s.Receivers {
		if !known[r] {
			return nil, fmt.Errorf("%s.receivers[%d]: no receiver named %q (known: %s)", at, i, r, strings.Join(sortedKeys(known), ", "))
		}
		if !slices.Contains(n.receivers, r) {
			n.receivers = append(n.receivers, r)
		}
	}
	for i, c := range s.Routes {
		child, err := build(c, g, known, fmt.Sprintf("%s.routes[%d]", at, i))
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, child)
	}
	return n, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Deliveries are where d goes: one per receiver (the first route to name
// a receiver sets its grouping).
func (t *Tree) Deliveries(d store.Detection) []store.Delivery {
	var out []store.Delivery
	seen := map[string]bool{}
	t.root.walk(d, func(n *node) {
		for _, r := range n.receivers {
			if seen[r] {
				continue
			}
			seen[r] = true
			out = append(out, store.Delivery{Channel: r, GroupKey: groupKey(n.group.By, d), Wait: n.group.Wait,
				Interval: n.group.Interval, DigestAbove: n.group.DigestAbove, MaxPerMessage: n.group.MaxPerMessage})
		}
	})
	return out
}

// walk calls deliver for each route that handles d.
func (n *node) walk(d store.Detection, deliver func(*node)) {
	taken := false
	for _, c := range n.children {
		if !c.matches(d) {
			continue
		}
		c.walk(d, deliver)
		taken = true
		if !c.cont {
			break
		}
	}
	if !taken {
		deliver(n)
	}
}

// matcher is a Match compiled.
type matcher struct{ tenant, typ, severity, threat, endpointType glob.List }

func compileMatch(m Match, at string) (matcher, error) {
	var out matcher
	for _, f := range []struct {
		name string
		pats []string
		dst  *glob.List
	}{{"tenant", m.Tenant, &out.tenant}, {"type", m.Type, &out.typ}, {"severity", m.Severity, &out.severity},
		{"threat", m.Threat, &out.threat}, {"endpoint_type", m.EndpointType, &out.endpointType}} {
		l, err := glob.CompileList(f.pats)
		if err != nil {
			return matcher{}, fmt.Errorf("%s.match.%s%w", at, f.name, err)
		}
		*f.dst = l
	}
	return out, nil
}

func (n *node) matches(d store.Detection) bool {
	m := n.match
	return holds(m.tenant, d.TenantID, d.TenantName) && holds(m.typ, d.Type) && holds(m.severity, d.Severity) &&
		holds(m.threat, d.Threat) && holds(m.endpointType, d.EndpointType)
}

// holds: no patterns, or one matching one of the values.
func holds(l glob.List, values ...string) bool { return len(l) == 0 || l.MatchAny(values...) }

// groupKey joins the values of the group_by fields; no fields: the event
// alone.
func groupKey(by []string, d store.Detection) string {
	if len(by) == 0 {
		return ""
	}
	parts := make([]string, len(by))
	for i, f := range by {
		switch f {
		case "tenant":
			parts[i] = "tenant=" + d.TenantID
		case "endpoint":
			parts[i] = "endpoint=" + d.EndpointID
		case "threat":
			parts[i] = "threat=" + d.Threat
		case "type":
			parts[i] = "type=" + d.Type
		}
	}
	return strings.Join(parts, "|")
}
