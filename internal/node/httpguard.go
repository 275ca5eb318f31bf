package node

import (
	"crypto/x509"
	"net"
	"net/http"

	"kizuna/internal/httpguard"
)

// rawBodyPaths are where HTTP request bodies need not be JSON: the Marti
// API of TAK clients (multipart mission uploads, file content,
// certificate signing requests on the enrollment listener).
var rawBodyPaths = []string{"/Marti/"}

// guardHTTP puts every HTTP listener behind the cross-site and rebinding
// protection of package httpguard: its own addresses, the names of the
// node's certificate on TLS listeners, and the configured HTTPHosts.
func (n *Node) guardHTTP(ln net.Listener, h http.Handler, tls bool) http.Handler {
	var cert *x509.Certificate
	if tls && n.cert != nil {
		cert = n.cert.Leaf
		if cert == nil && len(n.cert.Certificate) > 0 {
			cert, _ = x509.ParseCertificate(n.cert.Certificate[0])
		}
	}
	g, err := httpguard.New(httpguard.Config{
		Addr: ln.Addr().String(), TLS: tls, Cert: cert, Hosts: n.cfg.HTTPHosts,
		RawBodyPaths: rawBodyPaths, Log: n.log.With("component", "http", "listener", ln.Addr().String()),
	})
	if err != nil {
		// A bound listener always has an address; refuse everything if not.
		n.log.Error("http guard", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "misconfigured listener", http.StatusInternalServerError)
		})
	}
	return g.Wrap(h)
}
