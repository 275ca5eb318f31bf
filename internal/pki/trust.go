package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/seclog"
)

// Refusal reasons. Each refused handshake fails with an error wrapping one
// of these (ErrNationMismatch, declared with the CA, covers a subject O that
// names another nation than the verifying CA).
var (
	ErrNoClientCert = errors.New("no client certificate presented")
	ErrUnknownCA    = errors.New("certificate not issued by any trusted national CA")
	ErrRevoked      = errors.New("certificate revoked")
	ErrExpired      = errors.New("certificate expired")
	ErrNotYetValid  = errors.New("certificate not yet valid")
	ErrClearance    = errors.New("certificate has no valid clearance OU")
	ErrUsage        = errors.New("certificate not valid for this use")
	ErrBadCert      = errors.New("certificate invalid")
	ErrNotNode      = errors.New("not a node certificate")
	ErrServerName   = errors.New("peer certificate does not match the expected node id or host")
	ErrNodeID       = errors.New("node id differs from the certificate's common name")
	ErrTrustConfig  = errors.New("invalid trust configuration")
)

// DefaultCRLInterval is how often Run re-reads the CRL files.
const DefaultCRLInterval = 5 * time.Minute

// TrustConfig configures a node's trust store.
type TrustConfig struct {
	// Trust maps a nation code to the file holding that nation's CA
	// certificate (PEM). Each node trusts one CA per nation.
	Trust map[string]string
	// CRL maps a nation code to that CA's CRL file (PEM or DER).
	CRL map[string]string
	// CRLInterval is how often Run re-reads the CRLs (default 5 minutes).
	CRLInterval time.Duration
	// OnRefuse, if set, is called for every refused handshake with the
	// remote address and the reason; the node logs and audits it.
	OnRefuse func(remote string, err error)
}

type anchor struct {
	nation string
	cert   *x509.Certificate
	pool   *x509.CertPool
}

type crlState struct {
	file    string
	number  *big.Int
	next    time.Time
	serials map[string]struct{}
}

// TrustStore verifies client and peer certificates against one CA per
// nation and their revocation lists. It is safe for concurrent use.
type TrustStore struct {
	cfg       TrustConfig
	log       *slog.Logger
	anchors   []*anchor // sorted by nation
	all       *x509.CertPool
	ticketKey [32]byte

	mu   sync.RWMutex
	crls map[string]*crlState // nation → CRL

	subMu sync.Mutex
	subs  []chan struct{}

	cacheMu sync.Mutex
	cache   map[[32]byte]verifiedChain
}

// NewTrustStore loads the CA certificates and CRLs named by cfg.
func NewTrustStore(cfg TrustConfig, log *slog.Logger) (*TrustStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.CRLInterval == 0 {
		cfg.CRLInterval = DefaultCRLInterval
	}
	t := &TrustStore{cfg: cfg, log: log, all: x509.NewCertPool(), crls: map[string]*crlState{}}
	if _, err := rand.Read(t.ticketKey[:]); err != nil {
		return nil, err
	}
	if len(cfg.Trust) == 0 {
		return nil, fmt.Errorf("%w: no trusted CA (--trust NATION=CAFILE)", ErrTrustConfig)
	}
	seen := map[string]string{}
	for _, nat := range slices.Sorted(maps.Keys(cfg.Trust)) {
		n, err := label.ParseNation(nat)
		if err != nil || n != nat {
			return nil, fmt.Errorf("%w: trust %q: nation must be three upper-case letters", ErrTrustConfig, nat)
		}
		file := cfg.Trust[nat]
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: trust %s: %v", ErrTrustConfig, nat, err)
		}
		certs, err := ParseCertsPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%w: trust %s=%s: %v", ErrTrustConfig, nat, file, err)
		}
		if len(certs) != 1 {
			return nil, fmt.Errorf("%w: trust %s=%s holds %d certificates; give exactly one CA per nation", ErrTrustConfig, nat, file, len(certs))
		}
		c := certs[0]
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("%w: trust %s=%s: %q is not a CA certificate", ErrTrustConfig, nat, file, c.Subject)
		}
		fp := string(c.Raw)
		if other, dup := seen[fp]; dup {
			return nil, fmt.Errorf("%w: the same CA certificate is configured for %s and %s", ErrTrustConfig, other, nat)
		}
		seen[fp] = nat
		if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != nat {
			log.Warn("trusted CA's subject O differs from the nation it is trusted for", "nation", nat, "subject", c.Subject.String())
		}
		if time.Now().After(c.NotAfter) {
			log.Warn("trusted CA certificate has expired", "nation", nat, "not_after", c.NotAfter)
		}
		p := x509.NewCertPool()
		p.AddCert(c)
		t.all.AddCert(c)
		t.anchors = append(t.anchors, &anchor{nation: nat, cert: c, pool: p})
	}
	for nat := range cfg.CRL {
		if _, ok := cfg.Trust[nat]; !ok {
			return nil, fmt.Errorf("%w: CRL given for %s, which has no trusted CA", ErrTrustConfig, nat)
		}
	}
	for _, a := range t.anchors {
		if _, ok := cfg.CRL[a.nation]; !ok {
			log.Warn("no CRL configured: revoked certificates of this nation will be accepted", "nation", a.nation)
		}
	}
	if _, err := t.reload(true); err != nil {
		return nil, err
	}
	return t, nil
}

// Nations returns the nations with a trusted CA, sorted.
func (t *TrustStore) Nations() []string {
	out := make([]string, len(t.anchors))
	for i, a := range t.anchors {
		out[i] = a.nation
	}
	return out
}

// CA returns the trusted CA certificate of a nation.
func (t *TrustStore) CA(nation string) (*x509.Certificate, bool) {
	for _, a := range t.anchors {
		if a.nation == nation {
			return a.cert, true
		}
	}
	return nil, false
}

// Reload re-reads every CRL file. A CRL that cannot be read, does not verify
// against its nation's CA or is older (lower CRL number) than the one in use
// is not installed; the previous one stays in force and the error is
// returned. Subscribers are signalled if the reload added revocations.
func (t *TrustStore) Reload() error {
	_, err := t.reload(false)
	return err
}

func (t *TrustStore) reload(initial bool) (bool, error) {
	var errs []error
	next := map[string]*crlState{}
	t.mu.RLock()
	maps.Copy(next, t.crls)
	t.mu.RUnlock()
	added := false
	for _, a := range t.anchors {
		file, ok := t.cfg.CRL[a.nation]
		if !ok {
			continue
		}
		st, err := loadCRL(file, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("CRL %s=%s: %w", a.nation, file, err))
			continue
		}
		old := next[a.nation]
		if old != nil && old.number != nil && st.number != nil && st.number.Cmp(old.number) < 0 {
			errs = append(errs, fmt.Errorf("CRL %s=%s: number %v is older than the %v in use; kept the newer one", a.nation, file, st.number, old.number))
			continue
		}
		if old != nil {
			for s := range st.serials {
				if _, had := old.serials[s]; !had {
					added = true
				}
			}
			if n := len(st.serials); n < len(old.serials) {
				t.log.Info("CRL shrank (certificates removed from hold)", "nation", a.nation, "before", len(old.serials), "after", n)
			}
		}
		if !st.next.IsZero() && time.Now().After(st.next) {
			t.log.Warn("CRL is past its next update; refresh it with 'kizuna pki crl'", "nation", a.nation, "next_update", st.next)
		}
		next[a.nation] = st
	}
	err := errors.Join(errs...)
	if initial && err != nil {
		return false, fmt.Errorf("%w: %v", ErrTrustConfig, err)
	}
	t.mu.Lock()
	t.crls = next
	t.mu.Unlock()
	if err != nil {
		t.log.Error("CRL reload failed; previous revocation lists stay in force", seclog.Tag(seclog.Revocation), "err", err)
	}
	if added {
		t.log.Info("CRL reload added revocations", seclog.Tag(seclog.Revocation))
		t.notify()
	}
	return added, err
}

func loadCRL(file string, a *anchor) (*crlState, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	crl, err := ParseCRL(b)
	if err != nil {
		return nil, err
	}
	if err := crl.CheckSignatureFrom(a.cert); err != nil {
		return nil, fmt.Errorf("not signed by the %s CA: %w", a.nation, err)
	}
	st := &crlState{file: file, number: crl.Number, next: crl.NextUpdate, serials: map[string]struct{}{}}
	for _, e := range crl.RevokedCertificateEntries {
		st.serials[e.SerialNumber.String()] = struct{}{}
	}
	return st, nil
}

// Run re-reads the CRLs every CRLInterval until ctx is done.
func (t *TrustStore) Run(ctx context.Context) {
	if t.cfg.CRLInterval < 0 {
		<-ctx.Done()
		return
	}
	tk := time.NewTicker(t.cfg.CRLInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			_ = t.Reload() // logged by reload
		}
	}
}

// Subscribe returns a channel signalled after a reload that added
// revocations, so that the node can close live connections whose
// certificate is now revoked (check each with Revoked). Signals coalesce;
// the channel is never closed.
func (t *TrustStore) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	t.subMu.Lock()
	t.subs = append(t.subs, c)
	t.subMu.Unlock()
	return c
}

func (t *TrustStore) notify() {
	t.subMu.Lock()
	defer t.subMu.Unlock()
	for _, c := range t.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Revoked reports whether cert appears on the CRL of the trusted CA that
// issued it.
func (t *TrustStore) Revoked(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	for _, a := range t.anchors {
		if bytes.Equal(cert.RawIssuer, a.cert.RawSubject) && t.revokedBy(a.nation, cert) {
			return true
		}
	}
	return false
}

func (t *TrustStore) revokedBy(nation string, cert *x509.Certificate) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	st := t.crls[nation]
	if st == nil {
		return false
	}
	_, ok := st.serials[cert.SerialNumber.String()]
	return ok
}

// verify checks a presented chain (leaf first) against each nation's CA and
// that nation's CRL, and that the subject O names the verifying nation. It
// returns the verifying nation. Chain signatures verified once are cached
// (until the chain's validity ends), so reconnecting clients and the
// Principal call after a handshake do not repeat the P-384 verification;
// revocation, time and subject checks run every time.
func (t *TrustStore) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage) (string, error) {
	if len(certs) == 0 || certs[0] == nil {
		return "", ErrNoClientCert
	}
	leaf := certs[0]
	now := time.Now()
	key := chainKey(certs, usage)
	v, ok := t.cacheGet(key)
	if !ok || now.Before(v.notBefore) || now.After(v.notAfter) {
		var err error
		v, err = t.verifyChain(certs, usage, now)
		if err != nil {
			return "", err
		}
		t.cachePut(key, v)
	}
	a := v.anchor
	for _, c := range v.chain[:len(v.chain)-1] {
		if bytes.Equal(c.RawIssuer, a.cert.RawSubject) && t.revokedBy(a.nation, c) {
			return "", fmt.Errorf("%w: %q serial %s by the %s CA", ErrRevoked, c.Subject.CommonName, c.SerialNumber, a.nation)
		}
	}
	if o := leaf.Subject.Organization; len(o) != 1 || o[0] != a.nation {
		return "", fmt.Errorf("%w: subject O %q but verified by the %s CA", ErrNationMismatch, strings.Join(o, ","), a.nation)
	}
	if leaf.Subject.CommonName == "" {
		return "", fmt.Errorf("%w: empty subject CN", ErrBadCert)
	}
	return a.nation, nil
}

type verifiedChain struct {
	anchor              *anchor
	chain               []*x509.Certificate
	notBefore, notAfter time.Time // intersection of the chain's validity
}

const verifyCacheSize = 8192

func chainKey(certs []*x509.Certificate, usage x509.ExtKeyUsage) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", usage)
	for _, c := range certs {
		fmt.Fprintf(h, "%d\n", len(c.Raw))
		h.Write(c.Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (t *TrustStore) cacheGet(k [32]byte) (verifiedChain, bool) {
	t.cacheMu.Lock()
	defer t.cacheMu.Unlock()
	v, ok := t.cache[k]
	return v, ok
}

func (t *TrustStore) cachePut(k [32]byte, v verifiedChain) {
	t.cacheMu.Lock()
	defer t.cacheMu.Unlock()
	if t.cache == nil {
		t.cache = map[[32]byte]verifiedChain{}
	}
	if len(t.cache) >= verifyCacheSize {
		// Evict an arbitrary half: cheap, and the cache only saves work.
		n := 0
		for key := range t.cache {
			delete(t.cache, key)
			if n++; n >= verifyCacheSize/2 {
				break
			}
		}
	}
	t.cache[k] = v
}

// verifyChain finds the nation whose CA verifies the chain.
func (t *TrustStore) verifyChain(certs []*x509.Certificate, usage x509.ExtKeyUsage, now time.Time) (verifiedChain, error) {
	leaf := certs[0]
	var inter *x509.CertPool
	if len(certs) > 1 {
		inter = x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
	}
	var candidate error
	for _, a := range t.anchors {
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots: a.pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{usage},
		})
		if err != nil {
			var cie x509.CertificateInvalidError
			var uae x509.UnknownAuthorityError
			switch {
			case errors.As(err, &cie) && cie.Reason == x509.Expired:
				if cie.Cert != nil && now.Before(cie.Cert.NotBefore) {
					return verifiedChain{}, fmt.Errorf("%w: %q valid from %s", ErrNotYetValid, cie.Cert.Subject.CommonName, cie.Cert.NotBefore.UTC().Format(time.RFC3339))
				}
				name, na := leaf.Subject.CommonName, leaf.NotAfter
				if cie.Cert != nil {
					name, na = cie.Cert.Subject.CommonName, cie.Cert.NotAfter
				}
				return verifiedChain{}, fmt.Errorf("%w: %q expired %s", ErrExpired, name, na.UTC().Format(time.RFC3339))
			case errors.As(err, &cie) && cie.Reason == x509.IncompatibleUsage:
				candidate = fmt.Errorf("%w: %q lacks extended key usage %s", ErrUsage, leaf.Subject.CommonName, usageName(usage))
			case errors.As(err, &uae):
			default:
				if candidate == nil {
					candidate = fmt.Errorf("%w: %v", ErrBadCert, err)
				}
			}
			continue
		}
		v := verifiedChain{anchor: a, chain: chains[0]}
		for i, c := range v.chain {
			if i == 0 || c.NotBefore.After(v.notBefore) {
				v.notBefore = c.NotBefore
			}
			if i == 0 || c.NotAfter.Before(v.notAfter) {
				v.notAfter = c.NotAfter
			}
		}
		return v, nil
	}
	if candidate != nil {
		return verifiedChain{}, candidate
	}
	return verifiedChain{}, fmt.Errorf("%w: %q issued by %q", ErrUnknownCA, leaf.Subject.CommonName, leaf.Issuer.String())
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	}
	return fmt.Sprint(int(u))
}

// Identify verifies a chain (leaf first, as presented by the peer or as
// verified) and returns the principal it names: nation of the verifying CA,
// clearance and role from the OUs, name from the CN.
func (t *TrustStore) Identify(chain []*x509.Certificate) (label.Principal, error) {
	nat, err := t.verify(chain, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return label.Principal{}, err
	}
	return principalFrom(chain[0], nat)
}

// Principal returns the principal of a TLS connection's client certificate.
func (t *TrustStore) Principal(cs tls.ConnectionState) (label.Principal, error) {
	if len(cs.VerifiedChains) > 0 && len(cs.VerifiedChains[0]) > 0 {
		return t.Identify(cs.VerifiedChains[0])
	}
	return t.Identify(cs.PeerCertificates)
}

// principalFrom reads the clearance, role and caveat OUs of a verified leaf.
func principalFrom(leaf *x509.Certificate, nation string) (label.Principal, error) {
	p := label.Principal{Nation: nation, Name: leaf.Subject.CommonName}
	var clear []label.Classification
	for _, ou := range leaf.Subject.OrganizationalUnit {
		if r, ok := strings.CutPrefix(strings.ToLower(ou), RolePrefix); ok {
			role, err := ParseRole(r)
			if err != nil {
				return label.Principal{}, err
			}
			if p.Role != "" && p.Role != role {
				return label.Principal{}, fmt.Errorf("%w: two roles %q and %q", ErrRole, p.Role, role)
			}
			p.Role = role
			continue
		}
		if c, ok := strings.CutPrefix(strings.ToLower(ou), CaveatPrefix); ok {
			cav, err := label.ParseCaveat(p.Caveats + "/" + c)
			if err != nil || c == "" || strings.ContainsAny(c, "/, \t") {
				return label.Principal{}, fmt.Errorf("%w: OU %q: one of NOFORN, ORCON, FOUO", label.ErrCaveat, ou)
			}
			p.Caveats = cav
			continue
		}
		if c, err := label.ParseClassification(ou); err == nil {
			if !slices.Contains(clear, c) {
				clear = append(clear, c)
			}
		}
	}
	switch len(clear) {
	case 0:
		return label.Principal{}, fmt.Errorf("%w: subject OU %q names no clearance", ErrClearance, leaf.Subject.OrganizationalUnit)
	case 1:
		p.Clearance = clear[0]
	default:
		return label.Principal{}, fmt.Errorf("%w: several clearances %v", ErrClearance, clear)
	}
	return p, nil
}

// Node is a verified federation peer.
type Node struct {
	ID     string // CN of its certificate
	Nation string // nation of the CA that verified it
	Cert   *x509.Certificate
}

// IdentifyNode verifies a node certificate chain (leaf first) for the given
// usage (clientAuth for an inbound federation link, serverAuth for a dialled
// one) and returns the node it names.
func (t *TrustStore) IdentifyNode(chain []*x509.Certificate, usage x509.ExtKeyUsage) (Node, error) {
	nat, err := t.verify(chain, usage)
	if err != nil {
		return Node{}, err
	}
	if !slices.Contains(chain[0].Subject.OrganizationalUnit, NodeOU) {
		return Node{}, fmt.Errorf("%w: %q has no OU %q", ErrNotNode, chain[0].Subject.CommonName, NodeOU)
	}
	return Node{ID: chain[0].Subject.CommonName, Nation: nat, Cert: chain[0]}, nil
}

// PeerNode returns the federation peer of an inbound TLS connection
// accepted with FederationTLS.
func (t *TrustStore) PeerNode(cs tls.ConnectionState) (Node, error) {
	return t.IdentifyNode(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
}

// cipherSuites are the TLS 1.2 suites offered: ECDHE with AEAD only. TLS 1.3
// suites are not configurable and all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func (t *TrustStore) baseConfig(cert tls.Certificate) *tls.Config {
	c := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
	}
	c.SetSessionTicketKeys([][32]byte{t.ticketKey})
	return c
}

// refuse reports a refused handshake to OnRefuse, or logs it if there is
// no OnRefuse (which then owns logging and auditing).
func (t *TrustStore) refuse(remote string, err error) {
	if t.cfg.OnRefuse != nil {
		t.cfg.OnRefuse(remote, err)
		return
	}
	t.log.Warn("TLS handshake refused", seclog.Tag(seclog.TLS), "remote", remote, "err", err)
}

// serverConfig builds a server config whose verification runs at the
// handshake (also on session resumption) and reports refusals with the
// connection's remote address.
func (t *TrustStore) serverConfig(cert tls.Certificate, check func(cs tls.ConnectionState) error) *tls.Config {
	base := t.baseConfig(cert)
	// The client certificate is requested, and verified by check, rather
	// than required by crypto/tls, so that a missing certificate is refused
	// (and reported) the same way as any other bad one.
	base.ClientAuth = tls.RequestClientCert
	base.ClientCAs = t.all // only the acceptable-CA hint sent to clients
	base.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := check(cs); err != nil {
			t.refuse("", err)
			return err
		}
		return nil
	}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		remote := ""
		if hello.Conn != nil {
			remote = hello.Conn.RemoteAddr().String()
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := check(cs); err != nil {
				t.refuse(remote, err)
				return err
			}
			return nil
		}
		return c, nil
	}
	return base
}

// ServerTLS is the configuration of a listener for TAK clients and the web
// API: TLS 1.2 or later, a client certificate required and verified at the
// handshake (chain to a trusted national CA, not revoked, valid now,
// subject O equal to the CA's nation, a clearance OU). Refused handshakes
// are reported to TrustConfig.OnRefuse.
func (t *TrustStore) ServerTLS(cert tls.Certificate) *tls.Config {
	return t.serverConfig(cert, func(cs tls.ConnectionState) error {
		_, err := t.Identify(cs.PeerCertificates)
		return err
	})
}

// FederationTLS is the configuration of the federation listener: as
// ServerTLS but the peer must present a node certificate (OU "node").
// Whether that node is a declared peer is for the caller to decide, with
// PeerNode.
func (t *TrustStore) FederationTLS(cert tls.Certificate) *tls.Config {
	return t.serverConfig(cert, func(cs tls.ConnectionState) error {
		_, err := t.IdentifyNode(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
		return err
	})
}

// EnrollTLS is the configuration of the enrollment listener: server
// certificate only, no client certificate.
func (t *TrustStore) EnrollTLS(cert tls.Certificate) *tls.Config {
	return t.baseConfig(cert)
}

// ClientTLS is the configuration for dialling a federation peer. The
// server must present a node certificate from a trusted national CA, not
// revoked, whose CN equals serverName (the peer's node id) or whose SANs
// match serverName as a host name.
func (t *TrustStore) ClientTLS(cert tls.Certificate, serverName string) *tls.Config {
	c := t.baseConfig(cert)
	c.ServerName = serverName
	c.RootCAs = t.all
	// Verification is done by VerifyConnection below, which also maps the
	// chain to a nation and checks the CRL; crypto/tls's own check is off.
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		n, err := t.IdentifyNode(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
		if err == nil && n.ID != serverName && n.Cert.VerifyHostname(serverName) != nil {
			err = fmt.Errorf("%w: want %q, got node %q", ErrServerName, serverName, n.ID)
		}
		if err != nil {
			t.refuse(serverName, err)
		}
		return err
	}
	return c
}

// LoadKeyPair loads the node's certificate and key and checks that the
// certificate's CN equals nodeID.
func LoadKeyPair(certFile, keyFile, nodeID string) (tls.Certificate, error) {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading node certificate: %w", err)
	}
	leaf := kp.Leaf
	if leaf == nil {
		leaf, err = x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("parsing node certificate: %w", err)
		}
		kp.Leaf = leaf
	}
	if nodeID != "" && leaf.Subject.CommonName != nodeID {
		return tls.Certificate{}, fmt.Errorf("%w: --node-id %q but %s has CN %q", ErrNodeID, nodeID, certFile, leaf.Subject.CommonName)
	}
	return kp, nil
}
