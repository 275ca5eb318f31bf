package node

import (
	"net/http"

	"kizuna/internal/web"
)

// mountAuditAPI serves GET /api/v1/audit/head: the current head of the
// audit chain (sequence number, hash, time), so that an accreditor can
// note it and later check with `kizuna audit verify` that nothing before
// it changed. Only principals of the node's own nation see it: the chain
// is national.
func (n *Node) mountAuditAPI() {
	n.extraHTTP["GET /api/v1/audit/head"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := web.PrincipalFrom(r.Context())
		if !ok || p.Nation != n.cfg.Nation {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := n.audit.Head()
		web.WriteJSON(w, http.StatusOK, map[string]any{"node": n.cfg.NodeID, "seq": h.Seq, "hash": h.Hash, "time": h.Time})
	})
}
