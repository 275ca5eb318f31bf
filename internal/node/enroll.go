package node

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"kizuna/internal/enroll"
	"kizuna/internal/pki"
	"kizuna/internal/users"
)

// listenEnroll serves ATAK certificate enrollment on its own TLS listener
// (server certificate only): a user from the users file, authenticated
// with a password, receives a certificate from the enrollment CA carrying
// the nation, clearance and role of the user record.
func (n *Node) listenEnroll(ctx context.Context, l ListenerConfig) (ListenerInfo, error) {
	if n.cfg.EnrollCA == "" {
		return ListenerInfo{}, fmt.Errorf("%w: the enrollment listener needs --enroll-ca", ErrConfig)
	}
	ca, err := pki.LoadCA(n.cfg.EnrollCA)
	if err != nil {
		return ListenerInfo{}, fmt.Errorf("loading enrollment CA: %w", err)
	}
	if ca.Nation != n.cfg.Nation {
		return ListenerInfo{}, fmt.Errorf("%w: enrollment CA is %s's, the node is %s's", ErrConfig, ca.Nation, n.cfg.Nation)
	}
	path := n.cfg.Users
	if path == "" {
		path = filepath.Join(n.cfg.DataDir, "users.json")
	}
	us, err := users.Open(path)
	if err != nil {
		return ListenerInfo{}, fmt.Errorf("opening users file: %w", err)
	}
	toks, err := users.OpenTokens(users.TokensPath(path))
	if err != nil {
		return ListenerInfo{}, fmt.Errorf("opening enrollment tokens: %w", err)
	}
	h, err := enroll.New(enroll.Config{CA: ca, Users: us, Tokens: toks, Audit: n.audit, Log: n.log.With("component", "enroll"),
		ProfileDir: filepath.Join(n.cfg.DataDir, "profiles")})
	if err != nil {
		return ListenerInfo{}, err
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return ListenerInfo{}, fmt.Errorf("listening enroll on %s: %w", l.Addr, err)
	}
	n.serveHTTP(ln, h, n.trust.EnrollTLS(*n.cert))
	return ListenerInfo{Kind: l.Kind, Addr: ln.Addr().String()}, nil
}
