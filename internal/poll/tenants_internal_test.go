package poll

import (
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/glob/globtest"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/store"
)

// nopSource and nopStore satisfy New; filter never calls them.
type nopSource struct{ Source }
type nopStore struct{ store.Store }

// TestTenantGlobCases: tenants.include and tenants.exclude give every
// shared pattern the answer package glob gives, against the tenant id, the
// name and the display name.
func TestTenantGlobCases(t *testing.T) {
	m, err := match.New(match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tenants := map[string]func(v string) central.Tenant{
		"id":      func(v string) central.Tenant { return central.Tenant{ID: v} },
		"name":    func(v string) central.Tenant { return central.Tenant{Name: v} },
		"show as": func(v string) central.Tenant { return central.Tenant{ShowAs: v} },
	}
	for _, c := range globtest.Cases() {
		for _, list := range []string{"include", "exclude"} {
			o := Options{Source: nopSource{}, Store: nopStore{}, Matcher: m}
			if list == "include" {
				o.Include = []string{c.Pattern}
			} else {
				o.Exclude = []string{c.Pattern}
			}
			p, err := New(o)
			if c.WantError != "" {
				if err == nil || !strings.Contains(err.Error(), "tenant "+list+"[0]: ") || !strings.Contains(err.Error(), c.WantError) {
					t.Errorf("%s %q: New = %v, want an error naming %s[0] and containing %q", list, c.Pattern, err, list, c.WantError)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %q: %v", list, c.Pattern, err)
				continue
			}
			for field, tenant := range tenants {
				for _, want := range []bool{true, false} {
					values := c.Match
					if !want {
						values = c.NoMatch
					}
					for _, v := range values {
						kept := len(p.filter([]central.Tenant{tenant(v)})) == 1
						if matched := kept == (list == "include"); matched != want {
							t.Errorf("%s %q, tenant %s %q: matched %v, want %v", list, c.Pattern, field, v, matched, want)
						}
					}
				}
			}
		}
	}
}
