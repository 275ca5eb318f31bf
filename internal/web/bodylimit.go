package web

import "net/http"

// BodyLimiter is implemented by an extension handler whose requests may be
// larger than the listener's general body limit (file uploads).
type BodyLimiter interface {
	MaxRequestBody() int64
}

// maxBody is the body limit for r: the route's own when its handler is a
// BodyLimiter, the listener's otherwise.
func (s *Server) maxBody(next http.Handler, r *http.Request) int64 {
	if mux, ok := next.(*http.ServeMux); ok {
		if h, _ := mux.Handler(r); h != nil {
			if bl, ok := h.(BodyLimiter); ok && bl.MaxRequestBody() > s.o.MaxBody {
				return bl.MaxRequestBody()
			}
		}
	}
	return s.o.MaxBody
}
