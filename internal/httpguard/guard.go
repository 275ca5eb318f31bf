// Package httpguard protects an HTTP listener against cross-site requests
// and DNS rebinding. It wraps the listener's handler and, before anything
// else runs:
//
//   - refuses a request whose Host is not one of the listener's own names
//     (421 Misdirected Request): its bound address, for a loopback
//     listener also localhost, 127.0.0.1 and [::1] on its port, for one
//     bound to every interface the machine's addresses and host name, the
//     names of its TLS certificate, and configured extra names. A page
//     that rebinds its own DNS name to the node's address is refused, so
//     it can neither read nor write as the listener's principal;
//   - refuses a state-changing request (POST, PUT, PATCH, DELETE) and a
//     WebSocket upgrade whose Origin is not the listener's own origin
//     (403). A request without Origin (TAK clients, tools) passes: the
//     browser always sends it on these requests;
//   - refuses a state-changing request with a body that is not JSON
//     (application/json or a +json type) with 415, except on the paths
//     configured for TAK clients' uploads (multipart forms, raw files,
//     certificate requests): a cross-site form or text/plain fetch cannot
//     reach a JSON endpoint without a CORS preflight the node never grants;
//   - sets X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
//     Referrer-Policy: no-referrer and, unless the handler sets its own,
//     Content-Security-Policy: frame-ancestors 'none'.
//
// The node grants no CORS at all.
package httpguard

import (
	"crypto/x509"
	"errors"
	"fmt"
	"kizuna/internal/seclog"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// Config configures the guard of one listener.
type Config struct {
	// Addr is the listener's bound address (host:port).
	Addr string
	// TLS marks a listener that serves HTTPS; its default port is 443.
	TLS bool
	// Cert is the listener's certificate, whose DNS names and IP
	// addresses are its own names too. Optional.
	Cert *x509.Certificate
	// Hosts are extra names (or name:port) the listener answers to, for a
	// node reached through a DNS name or a forwarded port.
	Hosts []string
	// RawBodyPaths are path prefixes where a body need not be JSON (TAK
	// client uploads, certificate requests). "/" exempts every path.
	RawBodyPaths []string
	// Log receives refusals (security-relevant). Nil discards them.
	Log *slog.Logger
}

// Guard is the protection of one listener.
type Guard struct {
	cfg   Config
	port  string
	hosts map[string]bool // lower-case host:port (and bare host for the default port)
	log   *slog.Logger
}

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("httpguard: invalid configuration")

// New builds the guard of the listener bound at cfg.Addr.
func New(cfg Config) (*Guard, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %v", ErrConfig, cfg.Addr, err)
	}
	g := &Guard{cfg: cfg, port: port, hosts: make(map[string]bool), log: cfg.Log}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	names := []string{host}
	ip, ipErr := netip.ParseAddr(host)
	switch {
	case ipErr == nil && ip.IsLoopback():
		names = append(names, "localhost", "127.0.0.1", "::1")
	case ipErr == nil && ip.IsUnspecified():
		names = []string{"localhost", "127.0.0.1", "::1"} // never the unspecified address itself
		if h, err := os.Hostname(); err == nil && h != "" {
			names = append(names, h)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if pfx, err := netip.ParsePrefix(a.String()); err == nil {
					names = append(names, pfx.Addr().WithZone("").String())
				}
			}
		}
	case ipErr != nil && strings.EqualFold(host, "localhost"):
		names = append(names, "127.0.0.1", "::1")
	}
	if cfg.Cert != nil {
		names = append(names, cfg.Cert.DNSNames...)
		for _, ip := range cfg.Cert.IPAddresses {
			names = append(names, ip.String())
		}
	}
	for _, h := range cfg.Hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err == nil {
			g.hosts[strings.ToLower(h)] = true // an explicit name:port
			continue
		}
		names = append(names, strings.Trim(h, "[]"))
	}
	for _, n := range names {
		g.addName(n)
	}
	return g, nil
}

// addName allows name on the listener's port (and bare, on the default
// port of the scheme).
func (g *Guard) addName(name string) {
	name = strings.ToLower(strings.Trim(name, "[]"))
	if name == "" {
		return
	}
	g.hosts[strings.ToLower(net.JoinHostPort(name, g.port))] = true
	if (g.cfg.TLS && g.port == "443") || (!g.cfg.TLS && g.port == "80") {
		if strings.Contains(name, ":") {
			g.hosts["["+name+"]"] = true
		} else {
			g.hosts[name] = true
		}
	}
}

// HostAllowed reports whether host (a request's Host) names this listener.
func (g *Guard) HostAllowed(host string) bool {
	return g.hosts[strings.ToLower(host)]
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		if !g.HostAllowed(r.Host) {
			g.refuse(w, r, http.StatusMisdirectedRequest, "host", "unknown host")
			return
		}
		stateChanging := r.Method == http.MethodPost || r.Method == http.MethodPut ||
			r.Method == http.MethodPatch || r.Method == http.MethodDelete
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		if stateChanging || upgrade {
			if !g.sameOrigin(r) {
				g.refuse(w, r, http.StatusForbidden, "origin", "cross-origin request")
				return
			}
		}
		if stateChanging && hasBody(r) && !g.rawBodyPath(r.URL.Path) && !isJSON(r.Header.Get("Content-Type")) {
			g.refuse(w, r, http.StatusUnsupportedMediaType, "content_type", "request body must be application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether r carries no Origin (not a browser) or the
// listener's own origin. "null" (sandboxed frames, file: pages) is
// refused.
func (g *Guard) sameOrigin(r *http.Request) bool {
	vals := r.Header.Values("Origin")
	if len(vals) == 0 {
		// Fetch metadata, where a browser sends it without Origin.
		site := r.Header.Get("Sec-Fetch-Site")
		return site == "" || site == "same-origin" || site == "none"
	}
	if len(vals) > 1 {
		return false
	}
	u, err := url.Parse(vals[0])
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" {
		return false
	}
	want := "http"
	if r.TLS != nil {
		want = "https"
	}
	return u.Scheme == want && strings.EqualFold(u.Host, r.Host)
}

func (g *Guard) rawBodyPath(p string) bool {
	for _, pre := range g.cfg.RawBodyPaths {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// isJSON accepts application/json and the application/*+json types (for
// example TAXII's application/taxii+json), with parameters.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	g.log.Warn("http request refused", seclog.Tag(seclog.HTTP), "reason", reason,
		"method", r.Method, "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
	http.Error(w, msg, status)
}
