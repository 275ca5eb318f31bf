package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kizuna/internal/label"
)

func newCA(t testing.TB, nation string) *CA {
	t.Helper()
	ca, err := InitCA(filepath.Join(t.TempDir(), nation), nation)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func tlsCert(t testing.TB, iss *Issued) tls.Certificate {
	t.Helper()
	return tls.Certificate{Certificate: [][]byte{iss.Cert.Raw}, PrivateKey: iss.Key, Leaf: iss.Cert}
}

func client(t testing.TB, ca *CA, id Identity, v Validity) *tls.Certificate {
	t.Helper()
	iss, err := ca.IssueClient(id, v)
	if err != nil {
		t.Fatal(err)
	}
	c := tlsCert(t, iss)
	return &c
}

// craft signs an arbitrary template with a CA's key, bypassing the checks
// of IssueClient, to forge certificates a hostile or broken CA might emit.
func craft(t testing.TB, ca *CA, subj pkix.Name, eku x509.ExtKeyUsage) *tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      subj,
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{eku}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &k.PublicKey, ca.Signer())
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

type refusal struct {
	remote string
	err    error
}

type fixture struct {
	jpn, usa, fra *CA
	ts            *TrustStore
	server        tls.Certificate
	mu            sync.Mutex
	refused       []refusal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{jpn: newCA(t, "JPN"), usa: newCA(t, "USA"), fra: newCA(t, "FRA")}
	ts, err := NewTrustStore(TrustConfig{
		Trust: map[string]string{
			"JPN": filepath.Join(f.jpn.Dir, CACertFile),
			"USA": filepath.Join(f.usa.Dir, CACertFile),
		},
		CRL: map[string]string{
			"JPN": filepath.Join(f.jpn.Dir, CRLFile),
			"USA": filepath.Join(f.usa.Dir, CRLFile),
		},
		OnRefuse: func(remote string, err error) {
			f.mu.Lock()
			f.refused = append(f.refused, refusal{remote, err})
			f.mu.Unlock()
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ts = ts
	node, err := f.jpn.IssueNode("jpn-jjoc", []string{"127.0.0.1", "localhost"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	f.server = tlsCert(t, node)
	return f
}

type result struct {
	p   label.Principal
	err error
}

// dial runs one real handshake over loopback against cfg and returns what
// the server concluded, plus the client's local address.
func dial(t *testing.T, cfg *tls.Config, clientCfg *tls.Config, identify func(tls.ConnectionState) (label.Principal, error)) (result, string) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			res <- result{err: err}
			return
		}
		p, err := identify(tc.ConnectionState())
		if err == nil {
			tc.Write([]byte("ok"))
		}
		res <- result{p, err}
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), clientCfg)
	local := ""
	if err == nil {
		local = conn.LocalAddr().String()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		conn.Read(buf) // in TLS 1.3 a refused client learns of it here
		conn.Close()
	}
	return <-res, local
}

func (f *fixture) clientConfig(cert *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(f.jpn.Cert)
	c := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	// Always present the certificate, even when its issuer is not among
	// the CAs the server hints at: a hostile client would.
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		return cert, nil
	}
	return c
}

func TestServerTLSHandshakes(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	revoked := client(t, f.jpn, Identity{Name: "GHOST", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if err := f.jpn.Revoke(revoked.Leaf.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := f.ts.Reload(); err != nil {
		t.Fatal(err)
	}
	serverOnly, err := f.jpn.IssueServer([]string{"tak.example"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert *tls.Certificate
		tls  uint16 // max version; 0 = default (1.3)
		want label.Principal
		err  error
	}{
		{"valid JPN client", client(t, f.jpn, Identity{Name: "VIPER1", Nation: "JPN", Clearance: label.Secret, Role: "operator"}, Validity{}), 0,
			label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "VIPER1", Role: "operator"}, nil},
		{"valid JPN client over TLS 1.2", client(t, f.jpn, Identity{Name: "VIPER2", Nation: "JPN", Clearance: label.Confidential}, Validity{}), tls.VersionTLS12,
			label.Principal{Nation: "JPN", Clearance: label.Confidential, Name: "VIPER2"}, nil},
		{"valid USA client", client(t, f.usa, Identity{Name: "EAGLE", Nation: "USA", Clearance: label.TopSecret, Role: "commander"}, Validity{}), 0,
			label.Principal{Nation: "USA", Clearance: label.TopSecret, Name: "EAGLE", Role: "commander"}, nil},
		{"abbreviated clearance OU", craft(t, f.jpn, pkix.Name{CommonName: "ABBR", Organization: []string{"JPN"}, OrganizationalUnit: []string{"TAK", "S"}}, x509.ExtKeyUsageClientAuth), 0,
			label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "ABBR"}, nil},
		{"revoked", revoked, 0, label.Principal{}, ErrRevoked},
		{"expired", client(t, f.jpn, Identity{Name: "OLD", Nation: "JPN", Clearance: label.Secret}, Validity{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}), 0, label.Principal{}, ErrExpired},
		{"not yet valid", client(t, f.jpn, Identity{Name: "NEW", Nation: "JPN", Clearance: label.Secret}, Validity{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}), 0, label.Principal{}, ErrNotYetValid},
		{"unknown CA", client(t, f.fra, Identity{Name: "ROGUE", Nation: "FRA", Clearance: label.Secret}, Validity{}), 0, label.Principal{}, ErrUnknownCA},
		{"missing client cert", nil, 0, label.Principal{}, ErrNoClientCert},
		{"missing client cert over TLS 1.2", nil, tls.VersionTLS12, label.Principal{}, ErrNoClientCert},
		{"subject O claims another nation", craft(t, f.jpn, pkix.Name{CommonName: "SPOOF", Organization: []string{"USA"}, OrganizationalUnit: []string{"TOP SECRET"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, ErrNationMismatch},
		{"subject O missing", craft(t, f.jpn, pkix.Name{CommonName: "NOORG", OrganizationalUnit: []string{"SECRET"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, ErrNationMismatch},
		{"bad clearance OU", craft(t, f.jpn, pkix.Name{CommonName: "BAD", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SUPERSECRET"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, ErrClearance},
		{"two clearance OUs", craft(t, f.jpn, pkix.Name{CommonName: "TWO", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SECRET", "UNCLASSIFIED"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, ErrClearance},
		{"caveat OUs", craft(t, f.jpn, pkix.Name{CommonName: "CAV", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SECRET", "caveat:noforn", "CAVEAT:FOUO"}}, x509.ExtKeyUsageClientAuth), 0,
			label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "CAV", Caveats: "FOUO/NOFORN"}, nil},
		{"unknown caveat OU", craft(t, f.jpn, pkix.Name{CommonName: "EYES", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SECRET", "caveat:eyes"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, label.ErrCaveat},
		{"two caveats in one OU", craft(t, f.jpn, pkix.Name{CommonName: "TWO", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SECRET", "caveat:NOFORN/FOUO"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, label.ErrCaveat},
		{"unknown role", craft(t, f.jpn, pkix.Name{CommonName: "KING", Organization: []string{"JPN"}, OrganizationalUnit: []string{"SECRET", "role:king"}}, x509.ExtKeyUsageClientAuth), 0, label.Principal{}, ErrRole},
		{"server certificate as client", func() *tls.Certificate { c := tlsCert(t, serverOnly); return &c }(), 0, label.Principal{}, ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.refused = nil
			f.mu.Unlock()
			cc := f.clientConfig(tc.cert)
			cc.MaxVersion = tc.tls
			res, local := dial(t, f.ts.ServerTLS(f.server), cc, f.ts.Principal)
			if tc.err == nil {
				if res.err != nil {
					t.Fatalf("refused: %v", res.err)
				}
				if diff := cmp.Diff(tc.want, res.p); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
				return
			}
			if res.err == nil {
				t.Fatalf("accepted as %v, want refusal %v", res.p, tc.err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.refused) != 1 {
				t.Fatalf("OnRefuse called %d times (handshake error %v)", len(f.refused), res.err)
			}
			if !errors.Is(f.refused[0].err, tc.err) {
				t.Errorf("refused with %v, want %v", f.refused[0].err, tc.err)
			}
			if local != "" && f.refused[0].remote != local {
				t.Errorf("refusal remote %q, client was %q", f.refused[0].remote, local)
			}
		})
	}
}

func TestIdentifyWithoutHandshake(t *testing.T) {
	f := newFixture(t)
	c := client(t, f.usa, Identity{Name: "EAGLE", Nation: "USA", Clearance: label.Unclassified}, Validity{})
	p, err := f.ts.Identify([]*x509.Certificate{c.Leaf})
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "EAGLE@USA:UNCLASSIFIED" {
		t.Errorf("principal %v", p)
	}
	if _, err := f.ts.Identify(nil); !errors.Is(err, ErrNoClientCert) {
		t.Errorf("empty chain: %v", err)
	}
}

func TestCRLReloadSignalsSubscribers(t *testing.T) {
	f := newFixture(t)
	sub := f.ts.Subscribe()
	c := client(t, f.jpn, Identity{Name: "LIVE", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if f.ts.Revoked(c.Leaf) {
		t.Fatal("revoked before revocation")
	}
	if err := f.ts.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub:
		t.Fatal("signalled by a reload that added nothing")
	default:
	}
	if err := f.jpn.Revoke(c.Leaf.SerialNumber, ReasonUnspecified); err != nil {
		t.Fatal(err)
	}
	if err := f.ts.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub:
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber not signalled after a revocation")
	}
	if !f.ts.Revoked(c.Leaf) {
		t.Error("Revoked false after reload")
	}
	// A USA certificate with the same serial is not affected.
	var u *tls.Certificate
	for i := 0; i < 3; i++ {
		u = client(t, f.usa, Identity{Name: "SAME", Nation: "USA", Clearance: label.Secret}, Validity{})
		if u.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) >= 0 {
			break
		}
	}
	if u.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Fatalf("test expects equal serials, got %v and %v", u.Leaf.SerialNumber, c.Leaf.SerialNumber)
	}
	if f.ts.Revoked(u.Leaf) {
		t.Error("revocation by the JPN CA applied to a USA certificate")
	}
}

func TestRunReloadsPeriodically(t *testing.T) {
	f := newFixture(t)
	ts, err := NewTrustStore(TrustConfig{
		Trust:       map[string]string{"JPN": filepath.Join(f.jpn.Dir, CACertFile)},
		CRL:         map[string]string{"JPN": filepath.Join(f.jpn.Dir, CRLFile)},
		CRLInterval: 10 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ts.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	sub := ts.Subscribe()
	c := client(t, f.jpn, Identity{Name: "X", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if err := f.jpn.Revoke(c.Leaf.SerialNumber, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not pick up the new CRL")
	}
}

func TestCRLRollbackAndBadCRLKeepOld(t *testing.T) {
	f := newFixture(t)
	crlPath := filepath.Join(f.jpn.Dir, CRLFile)
	old, _ := os.ReadFile(crlPath)
	c := client(t, f.jpn, Identity{Name: "X", Nation: "JPN", Clearance: label.Secret}, Validity{})
	f.jpn.Revoke(c.Leaf.SerialNumber, 0)
	if err := f.ts.Reload(); err != nil {
		t.Fatal(err)
	}
	// An older CRL (lower number) must not un-revoke.
	os.WriteFile(crlPath, old, 0o644)
	if err := f.ts.Reload(); err == nil {
		t.Error("older CRL accepted")
	}
	if !f.ts.Revoked(c.Leaf) {
		t.Error("rollback un-revoked a certificate")
	}
	// A CRL signed by another CA is refused too.
	fraCRL, _ := os.ReadFile(filepath.Join(f.fra.Dir, CRLFile))
	os.WriteFile(crlPath, fraCRL, 0o644)
	if err := f.ts.Reload(); err == nil {
		t.Error("CRL from another CA accepted")
	}
	if !f.ts.Revoked(c.Leaf) {
		t.Error("bad CRL cleared revocations")
	}
}

func TestTrustConfigErrors(t *testing.T) {
	jpn := newCA(t, "JPN")
	leaf := client(t, jpn, Identity{Name: "L", Nation: "JPN", Clearance: label.Secret}, Validity{})
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	os.WriteFile(leafFile, CertPEM(leaf.Leaf), 0o644)
	ca := filepath.Join(jpn.Dir, CACertFile)
	tests := []struct {
		name string
		cfg  TrustConfig
	}{
		{"no trust", TrustConfig{}},
		{"missing file", TrustConfig{Trust: map[string]string{"JPN": filepath.Join(t.TempDir(), "nope.pem")}}},
		{"not a CA", TrustConfig{Trust: map[string]string{"JPN": leafFile}}},
		{"same CA twice", TrustConfig{Trust: map[string]string{"JPN": ca, "KOR": ca}}},
		{"bad nation", TrustConfig{Trust: map[string]string{"jp": ca}}},
		{"CRL without CA", TrustConfig{Trust: map[string]string{"JPN": ca}, CRL: map[string]string{"USA": filepath.Join(jpn.Dir, CRLFile)}}},
		{"CRL is not a CRL", TrustConfig{Trust: map[string]string{"JPN": ca}, CRL: map[string]string{"JPN": ca}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTrustStore(tc.cfg, nil); !errors.Is(err, ErrTrustConfig) {
				t.Errorf("err = %v, want ErrTrustConfig", err)
			}
		})
	}
}

func TestFederationTLS(t *testing.T) {
	f := newFixture(t)
	usaNode, err := f.usa.IssueNode("usa-hub", nil, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	usaCert := tlsCert(t, usaNode)
	user := client(t, f.usa, Identity{Name: "usa-hub", Nation: "USA", Clearance: label.TopSecret}, Validity{})

	// Inbound: a USA node dials our federation listener.
	node := func(cs tls.ConnectionState) (label.Principal, error) {
		n, err := f.ts.PeerNode(cs)
		return label.Principal{Nation: n.Nation, Name: n.ID}, err
	}
	res, _ := dial(t, f.ts.FederationTLS(f.server), f.ts.ClientTLS(usaCert, "jpn-jjoc"), node)
	if res.err != nil || res.p.Nation != "USA" || res.p.Name != "usa-hub" {
		t.Fatalf("node link: %+v", res)
	}
	// A user certificate with the same CN is not a node.
	cc := f.ts.ClientTLS(*user, "jpn-jjoc")
	res, _ = dial(t, f.ts.FederationTLS(f.server), cc, node)
	if res.err == nil {
		t.Fatal("user certificate accepted on the federation listener")
	}
	f.mu.Lock()
	last := f.refused[len(f.refused)-1].err
	f.mu.Unlock()
	if !errors.Is(last, ErrNotNode) {
		t.Errorf("refused with %v, want ErrNotNode", last)
	}
	// Outbound: dialling expects a given node id.
	cfg := f.ts.ClientTLS(usaCert, "kor-hub")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", f.ts.FederationTLS(f.server))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, err = tls.Dial("tcp", ln.Addr().String(), cfg)
	if !errors.Is(err, ErrServerName) {
		t.Errorf("dialling the wrong node: %v, want ErrServerName", err)
	}
}

func TestLoadKeyPair(t *testing.T) {
	ca := newCA(t, "JPN")
	n, err := ca.IssueNode("jpn-jjoc", []string{"localhost"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kp, _ := n.KeyPEM()
	os.WriteFile(filepath.Join(dir, "node.pem"), n.CertPEM(), 0o644)
	os.WriteFile(filepath.Join(dir, "node.key"), kp, 0o600)
	if _, err := LoadKeyPair(filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key"), "jpn-jjoc"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key"), "usa-hub"); !errors.Is(err, ErrNodeID) {
		t.Fatalf("wrong node id: %v", err)
	}
}

func TestRevocationAppliesToCachedChains(t *testing.T) {
	f := newFixture(t)
	c := client(t, f.jpn, Identity{Name: "LIVE", Nation: "JPN", Clearance: label.Secret}, Validity{})
	chain := []*x509.Certificate{c.Leaf}
	if _, err := f.ts.Identify(chain); err != nil {
		t.Fatal(err)
	}
	if err := f.jpn.Revoke(c.Leaf.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := f.ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ts.Identify(chain); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revocation: %v, want ErrRevoked", err)
	}
	// Verifying for another usage is not served from the cache entry.
	if _, err := f.ts.IdentifyNode(chain, x509.ExtKeyUsageServerAuth); !errors.Is(err, ErrUsage) {
		t.Fatalf("client certificate as a server: %v, want ErrUsage", err)
	}
}
