package sim

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/puawatch/puawatch/internal/fake/sim/gen"
)

// tenant is one simulated customer with its events.
type tenant struct {
	idx  int // generator index
	spec gen.TenantSpec

	mu       sync.RWMutex
	recs     []rec             // ordered by (created, seq)
	injected map[uint32]*Event // seq -> event given through the control API
	counts   map[uint16]int    // events generated, by type index
	nextSeq  uint32
}

func (s *Simulator) newTenant(idx int, spec gen.TenantSpec) *tenant {
	return &tenant{idx: idx, spec: spec, injected: map[uint32]*Event{}, counts: map[uint16]int{}}
}

func (s *Simulator) tenant(id string) *tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

// TenantInfo describes a tenant as the control API and tests see it.
type TenantInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Region      string `json:"dataRegion"`
	Geography   string `json:"dataGeography"`
	BillingType string `json:"billingType"`
	APIHost     string `json:"apiHost"`
}

// Tenants lists the current tenants.
func (s *Simulator) Tenants() []TenantInfo {
	s.mu.RLock()
	ts := append([]*tenant(nil), s.tenants...)
	s.mu.RUnlock()
	out := make([]TenantInfo, len(ts))
	for i, t := range ts {
		out[i] = s.info(t)
	}
	return out
}

func (s *Simulator) info(t *tenant) TenantInfo {
	return TenantInfo{ID: t.spec.ID, Name: t.spec.Name, Region: t.spec.Region, Geography: t.spec.Geography,
		BillingType: t.spec.BillingType, APIHost: s.regionBase(t.spec.Region)}
}

// AddTenant adds a tenant with a generated identity; name and region
// override the generated ones when not empty. Its backlog is empty: events
// come from the live stream and the control API.
func (s *Simulator) AddTenant(name, region string) TenantInfo {
	s.mu.Lock()
	idx := s.nextIndex
	s.nextIndex++
	s.mu.Unlock()
	spec := s.gen.Tenant(idx, s.cfg.Regions)
	if name != "" {
		spec.Name = name
	}
	if region != "" {
		spec.Region = region
		spec.Geography = gen.GeographyOf(region)
	}
	t := s.newTenant(idx, spec)
	s.mu.Lock()
	s.tenants = append(s.tenants, t)
	s.byID[spec.ID] = t
	s.mu.Unlock()
	return s.info(t)
}

// RemoveTenant removes a tenant; its API calls answer 403 from then on.
func (s *Simulator) RemoveTenant(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return false
	}
	for i, t := range s.tenants {
		if t.spec.ID == id {
			s.tenants = append(s.tenants[:i:i], s.tenants[i+1:]...)
			break
		}
	}
	if s.removed == nil {
		s.removed = map[string]*tenant{}
	}
	s.removed[id] = s.byID[id]
	delete(s.byID, id)
	return true
}

// RestoreTenant brings back a removed tenant with its identity and
// events, as when a customer returns to a partner; events made while it
// was away are there too (the feed kept running).
func (s *Simulator) RestoreTenant(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.removed[id]
	if !ok {
		return false
	}
	delete(s.removed, id)
	s.byID[id] = t
	s.tenants = append(s.tenants, t)
	return true
}

// tenantJSON is a tenant as the partner and organization APIs show it.
func (s *Simulator) tenantJSON(t *tenant) map[string]any {
	return map[string]any{
		"id":            t.spec.ID,
		"name":          t.spec.Name,
		"showAs":        t.spec.Name,
		"dataGeography": t.spec.Geography,
		"dataRegion":    t.spec.Region,
		"billingType":   t.spec.BillingType,
		"partner":       map[string]string{"id": s.credID("partner")},
		"organization":  map[string]string{"id": s.credID("organization")},
		"apiHost":       s.regionBase(t.spec.Region),
		"status":        "active",
	}
}

func (s *Simulator) credID(kind string) string {
	c, _ := s.Credential(kind)
	return c.ID
}

// scope checks that the caller is a credential of kind and names itself
// in the X-Partner-ID or X-Organization-ID header.
func (s *Simulator) scope(w http.ResponseWriter, r *http.Request, kind string) bool {
	c, ok := s.authenticate(w, r)
	if !ok {
		return false
	}
	header := map[string]string{"partner": "X-Partner-ID", "organization": "X-Organization-ID"}[kind]
	if c.IDType != kind {
		writeError(w, http.StatusForbidden, "Forbidden", "this credential is a "+c.IDType+" credential, not a "+kind+" one")
		return false
	}
	if got := r.Header.Get(header); got != c.ID {
		writeError(w, http.StatusForbidden, "Forbidden", header+" must be the id whoami returns")
		return false
	}
	return true
}

func (s *Simulator) handleTenantList(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.scope(w, r, kind) {
			return
		}
		q := r.URL.Query()
		page, size := 1, 50
		var err error
		if v := q.Get("page"); v != "" {
			if page, err = strconv.Atoi(v); err != nil || page < 1 {
				writeError(w, http.StatusBadRequest, "badRequest", "page must be a whole number from 1")
				return
			}
		}
		if v := q.Get("pageSize"); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 1 {
				writeError(w, http.StatusBadRequest, "badRequest", "pageSize must be a whole number from 1")
				return
			}
		}
		maxSize := s.cfg.TenantPageMax
		size = min(size, maxSize)
		total := false
		if v := q.Get("pageTotal"); v != "" {
			if total, err = strconv.ParseBool(v); err != nil {
				writeError(w, http.StatusBadRequest, "badRequest", "pageTotal must be true or false")
				return
			}
		}
		s.mu.RLock()
		all := append([]*tenant(nil), s.tenants...)
		s.mu.RUnlock()
		items := []map[string]any{}
		if page-1 <= len(all)/size { // beyond: an empty page, without overflowing
			for i := (page - 1) * size; i < len(all) && i < page*size; i++ {
				items = append(items, s.tenantJSON(all[i]))
			}
		}
		pages := map[string]int{"current": page, "size": size, "maxSize": maxSize}
		if total {
			pages["total"] = (len(all) + size - 1) / size
			pages["items"] = len(all)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "pages": pages})
	}
}

func (s *Simulator) handleTenantGet(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.scope(w, r, kind) {
			return
		}
		t := s.tenant(r.PathValue("id"))
		if t == nil {
			writeError(w, http.StatusNotFound, "notFound", "no tenant "+r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, s.tenantJSON(t))
	}
}
