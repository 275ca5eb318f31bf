package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kizuna/internal/label"
)

// metricsHandler serves GET /metrics to principals of this node's own
// nation whose clearance reaches Options.MetricsClearance, or whose role
// is admin. The counters are not label-filtered (feed names, federation
// peers and link state, rejection counters by reason), so a partner
// principal could learn from them what the JSON APIs withhold, or use a
// rejection counter as an oracle for whether a uid it cannot see exists.
// Anyone else gets 403 with a body that says nothing about the node.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.o.Metrics.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok || !MayReadMetrics(p, s.o.Nation, s.o.MetricsClearance) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// MayReadMetrics is the /metrics rule: a principal of the node's own
// nation, with role admin or a clearance of at least floor.
func MayReadMetrics(p label.Principal, nation string, floor label.Classification) bool {
	if nation == "" || p.Nation != nation || !p.Valid() {
		return false
	}
	return p.Role == "admin" || p.Clearance >= floor
}
