package sim

import (
	"net/http"
	"time"
)

// hang leaves the request unanswered until the client goes away, or, with
// hangFor set, answers 504 after it.
func (s *Simulator) hang(w http.ResponseWriter, r *http.Request, hangFor Duration) {
	var limit <-chan time.Time
	if hangFor > 0 {
		t := time.NewTimer(time.Duration(hangFor))
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-r.Context().Done():
	case <-limit:
		writeError(w, http.StatusGatewayTimeout, "gatewayTimeout", "Gateway Timeout")
	}
}
