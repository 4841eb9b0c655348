package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// controlRoutes mounts the control API (/sim/v1/), which is not part of
// Sophos's API: it lets tests and users drive the simulator.
func (s *Simulator) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /sim/v1/credentials", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"token_url": s.TokenURL(), "api_url": s.GlobalURL(), "credentials": s.Credentials()})
	})
	m.HandleFunc("GET /sim/v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": s.Tenants()})
	})
	m.HandleFunc("POST /sim/v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name   string `json:"name"`
			Region string `json:"region"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		if body.Region != "" && !s.knownRegion(body.Region) {
			writeError(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("region %q is not one of %v", body.Region, s.cfg.Regions))
			return
		}
		writeJSON(w, http.StatusCreated, s.AddTenant(body.Name, body.Region))
	})
	m.HandleFunc("DELETE /sim/v1/tenants/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.RemoveTenant(r.PathValue("id")) {
			writeError(w, http.StatusNotFound, "notFound", "no tenant "+r.PathValue("id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /sim/v1/tenants/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Events    []Event   `json:"events"`
			VisibleAt time.Time `json:"visible_at"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		ids, err := s.Inject(r.PathValue("id"), body.Events, body.VisibleAt)
		if err != nil {
			writeError(w, http.StatusBadRequest, "badRequest", err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
	})
	m.HandleFunc("GET /sim/v1/tenants/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		evs, err := s.Events(r.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusNotFound, "notFound", err.Error())
			return
		}
		b := []byte(`{"items":[`)
		for i := range evs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEvent(b, &evs[i])
		}
		b = append(b, "]}\n"...)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	m.HandleFunc("GET /sim/v1/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	})
	m.HandleFunc("GET /sim/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Settings())
	})
	// PATCH-like: the body is decoded over the current settings, so
	// {"faults":{"error_rate":0.1}} changes that one value.
	m.HandleFunc("PUT /sim/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		st := s.Settings()
		if !decodeBody(w, r, &st) {
			return
		}
		if err := s.SetSettings(st); err != nil {
			writeError(w, http.StatusBadRequest, "badRequest", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.Settings())
	})
	// Stopping the live stream fixes the ground truth: the events made so
	// far stay, no more are made (StopLive). The answer is the counters
	// then, so a caller reads the final figures in the same call.
	m.HandleFunc("POST /sim/v1/live/stop", func(w http.ResponseWriter, r *http.Request) {
		s.StopLive()
		writeJSON(w, http.StatusOK, s.Counters())
	})
	m.HandleFunc("POST /sim/v1/tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"revoked": s.RevokeTokens()})
	})
	m.HandleFunc("POST /sim/v1/clock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Advance Duration `json:"advance"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		if body.Advance < 0 {
			writeError(w, http.StatusBadRequest, "badRequest", "advance must not be negative")
			return
		}
		s.Advance(time.Duration(body.Advance))
		writeJSON(w, http.StatusOK, map[string]string{"now": s.now().Format(tsLayout)})
	})
}

func (s *Simulator) knownRegion(r string) bool {
	for _, x := range s.cfg.Regions {
		if x == r {
			return true
		}
	}
	return false
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "badRequest", "request body: "+err.Error())
		return false
	}
	return true
}

// Events returns every event of a tenant that is within retention, in the
// API's order, whether visible yet or not: the ground truth tests compare
// a client's output against.
func (s *Simulator) Events(tenantID string) ([]Event, error) {
	t := s.tenant(tenantID)
	if t == nil {
		return nil, fmt.Errorf("no tenant %q", tenantID)
	}
	now := s.now()
	s.advanceLive(now)
	oldest := ms(now.Add(-Retention))
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Event
	for _, r := range t.recs {
		if r.created >= oldest {
			out = append(out, s.event(t, r))
		}
	}
	return out, nil
}
