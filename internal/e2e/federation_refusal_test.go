package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// rawPeer is a hand-driven federation peer speaking the wire protocol.
type rawPeer struct {
	t     testing.TB
	conn  *tls.Conn
	br    *bufio.Reader
	hello *federation.Hello
	// signer signs the events the peer originates under its own node id
	// with its certificate's key; certSent: its CERT frame went out.
	id       string
	signer   *federation.Signer
	certSent bool
}

func loadPair(t testing.TB, cert, key string) tls.Certificate {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// dialRaw connects to a federation listener with cert, sends a hello and
// returns the peer with the listener's hello, or the error that ended it.
func dialRaw(t testing.TB, addr string, cert tls.Certificate, id, nation string) (*rawPeer, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	signer, err := federation.NewSigner(id, cert)
	if err != nil {
		return nil, err
	}
	p := &rawPeer{t: t, conn: conn, br: bufio.NewReader(conn), id: id, signer: signer}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(federation.AppendHello(nil, federation.Hello{Version: federation.ProtocolVersion, NodeID: id, Nation: nation})); err != nil {
		return nil, err
	}
	f, _, err := federation.ReadFrame(p.br, 1<<21, nil)
	if err != nil {
		return nil, err
	}
	p.hello = f.Hello
	conn.SetDeadline(time.Time{})
	return p, nil
}

// sendEvent sends e. An event without a signature that names the peer as
// its origin is signed first (alone), and the peer's certificate goes
// ahead of its first event, as a genuine node does.
func (p *rawPeer) sendEvent(lane uint8, seq uint64, e *federation.Event) {
	p.t.Helper()
	if e.Auth.Sig == nil && e.OriginNode == p.id {
		if err := p.signer.Sign([]*federation.Event{e}); err != nil {
			p.t.Fatal(err)
		}
	}
	var b []byte
	if !p.certSent {
		b = federation.AppendCert(b, p.signer.CertDER())
		p.certSent = true
	}
	b = federation.AppendEvent(b, lane, seq, federation.EncodeEventBody(nil, e))
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("sending event: %v", err)
	}
}

// waitAck reads frames until an ack of lane reaches seq.
func (p *rawPeer) waitAck(lane uint8, seq uint64) {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, _, err := federation.ReadFrame(p.br, 1<<21, nil)
		if err != nil {
			p.t.Fatalf("waiting for ack %d: %v", seq, err)
		}
		if f.Ack != nil && f.Ack.Lane == lane && f.Ack.Seq >= seq {
			return
		}
	}
}

// forgeNode signs a node certificate with ca's key but another nation in
// its subject.
func forgeNode(t testing.TB, ca *pki.CA, cn, nation string, p *topology.PKI) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{nation}, OrganizationalUnit: []string{pki.NodeOU}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Signer())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c, k, err := p.Write("forged-"+cn, &pki.Issued{Cert: cert, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return loadPair(t, c, k)
}

// TestFederationRefusals: only a declared peer with a valid node
// certificate of a trusted CA gets a link; the nation it first came with is
// pinned; a wrong-nation, expired, undeclared or non-node certificate is
// refused.
func TestFederationRefusals(t *testing.T) {
	t.Parallel()
	c := fedCluster(t, topology.Trilateral()[:1]) // the hub alone, awaiting jpn-node and kor-node
	hub := c.Node("usa-hub")
	addr := hub.Addr("federation")
	p := c.PKI
	issue := func(nation, id string, v pki.Validity) tls.Certificate {
		cf, kf, err := p.NodeCert(nation, id, v)
		if err != nil {
			t.Fatal(err)
		}
		return loadPair(t, cf, kf)
	}

	// The genuine KOR node links, which pins kor-node to KOR.
	good, err := dialRaw(t, addr, issue("KOR", "kor-node", pki.Validity{}), "kor-node", "KOR")
	if err != nil {
		t.Fatalf("genuine peer refused: %v", err)
	}
	if good.hello == nil || good.hello.NodeID != "usa-hub" || good.hello.Nation != "USA" {
		t.Fatalf("hub hello: %+v", good.hello)
	}
	good.conn.Close()

	client, err := p.CAs["KOR"].IssueClient(pki.Identity{Name: "kor-node", Nation: "KOR", Clearance: label.Secret}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cf, kf, err := p.Write("client-kor-node", client)
	if err != nil {
		t.Fatal(err)
	}
	past := pki.Validity{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	tests := []struct {
		name   string
		cert   tls.Certificate
		id, nt string
	}{
		{"kor-node with a JPN certificate (nation pinned)", issue("JPN", "kor-node", pki.Validity{}), "kor-node", "JPN"},
		{"subject KOR signed by the JPN CA", forgeNode(t, p.CAs["JPN"], "kor-node", "KOR", p), "kor-node", "KOR"},
		{"expired node certificate", issue("KOR", "kor-node", past), "kor-node", "KOR"},
		{"undeclared node", issue("KOR", "kor-rogue", pki.Validity{}), "kor-rogue", "KOR"},
		{"user certificate, not a node", loadPair(t, cf, kf), "kor-node", "KOR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dialRaw(t, addr, tt.cert, tt.id, tt.nt); err == nil {
				t.Fatal("link accepted")
			}
			if st := fedPeer(hub.Federation().Status(), "kor-node"); st.State == "up" || st.Nation != "KOR" {
				t.Fatalf("kor-node after refusal: %+v", st)
			}
		})
	}
	// The genuine node still links after the refusals.
	if _, err := dialRaw(t, addr, issue("KOR", "kor-node", pki.Validity{}), "kor-node", "KOR"); err != nil {
		t.Fatalf("genuine peer refused after refusals: %v", err)
	}
}

// TestFederationInboundRules: what a linked peer sends is checked before
// it reaches anyone: loops (the receiver in the path), a node speaking for
// another nation, an event this node may not hold, a duplicate of an
// origin sequence number, an overwrite of another nation's object, and an
// oversized frame, which closes the link.
func TestFederationInboundRules(t *testing.T) {
	t.Parallel()
	c := fedCluster(t, topology.Trilateral()[:1])
	hub := c.Node("usa-hub")
	cf, kf, err := c.PKI.NodeCert("JPN", "jpn-node", pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := dialRaw(t, hub.Addr("federation"), loadPair(t, cf, kf), "jpn-node", "JPN")
	if err != nil {
		t.Fatal(err)
	}
	usa := fedDial(t, hub)
	// A KOR-owned object at the hub (published by a KOR principal would
	// need a KOR listener; ingest it as federated from kor-node instead).
	kor := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA", "JPN"}, Originator: "KOR"}
	ev, err := cot.Decode([]byte(fedEvent("kor-owned", "a-f-G-U-C", "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.IngestFederated(ev, kor, nil); err == nil {
		usa.expect("kor-owned", func(e *cot.Event) bool { return e.UID == "kor-owned" }, 5*time.Second)
	}

	jpnRel := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "JPN"}
	ok := func(uid string, oseq uint64) *federation.Event {
		return &federation.Event{OriginNode: "jpn-node", OriginSeq: oseq, Path: []string{"jpn-node"}, Label: jpnRel,
			Payload: []byte(fedEvent(uid, "b-m-p-s-m", "", ""))}
	}
	loop := ok("loop", 2)
	loop.OriginNode, loop.Path = "usa-hub", []string{"usa-hub", "jpn-node"}
	foreign := ok("foreign", 3)
	foreign.Label.Originator = "KOR"
	secret := ok("too-secret", 4)
	secret.Label.Classification = label.TopSecret
	notUSA := ok("not-usa", 5)
	notUSA.Label.ReleasableTo = []string{"KOR"}
	dup := ok("first", 1) // same origin sequence number as "first"
	dup.Payload = []byte(fedEvent("dup", "b-m-p-s-m", "", ""))
	overwrite := &federation.Event{OriginNode: "jpn-node", OriginSeq: 6, Path: []string{"jpn-node"}, Label: jpnRel,
		Payload: []byte(fedEvent("kor-owned", "a-f-G-U-C", "", "<remarks>taken</remarks>"))}

	peer.sendEvent(federation.LaneRoutine, 1, ok("first", 1))
	for i, e := range []*federation.Event{loop, foreign, secret, notUSA, dup, overwrite} {
		peer.sendEvent(federation.LaneRoutine, uint64(2+i), e)
	}
	peer.sendEvent(federation.LaneRoutine, 8, ok("last", 7))
	peer.waitAck(federation.LaneRoutine, 8) // refused events are acknowledged too
	got := usa.collectUntil("last", 10*time.Second)
	got = append(got, usa.collect(200*time.Millisecond)...)
	for _, e := range got {
		switch e.UID {
		case "first", "last":
		case "kor-owned":
			t.Errorf("a JPN peer overwrote a KOR object: %s", e.Detail)
		default:
			t.Errorf("refused event %q delivered", e.UID)
		}
	}
	if owner, _ := hub.Picture().Owner("kor-owned"); owner != "KOR" {
		t.Errorf("owner of kor-owned = %q", owner)
	}

	// A frame over the size limit closes the link.
	big := ok("big", 8)
	big.Payload = make([]byte, 2<<20)
	peer.conn.Write(federation.AppendEvent(nil, 1, 9, federation.EncodeEventBody(nil, big)))
	peer.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := federation.ReadFrame(peer.br, 1<<21, nil); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("link not closed after an oversized frame")
			}
			break
		}
	}
}

// TestFederationRevokedPeer: when a peer's node certificate is revoked
// (the CRL re-read, as on SIGHUP), its live link is closed and it cannot
// link again; the other links stay up.
func TestFederationRevokedPeer(t *testing.T) {
	t.Parallel()
	c := fedCluster(t, topology.Trilateral())
	fedLinksUp(t, c)
	hub := c.Node("usa-hub")
	pemBytes, err := os.ReadFile(c.Config("kor-node").TLSCert)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PKI.CAs["KOR"].Revoke(cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	hub.Reload()
	taktest.WaitUntil(t, "revoked link closed", 10*time.Second, func() bool {
		return fedPeer(hub.Federation().Status(), "kor-node").State == "down"
	})
	// KOR redials (backoff from 100 ms); its attempts fail at the
	// handshake (TLS 1.3: the client learns it at its first read).
	kor := c.Node("kor-node")
	taktest.WaitUntil(t, "a refused redial", 10*time.Second, func() bool {
		return strings.Contains(fedPeer(kor.Federation().Status(), "usa-hub").LastError, "bad certificate")
	})
	if st := fedPeer(hub.Federation().Status(), "kor-node"); st.State != "down" || st.Connects != 1 {
		t.Errorf("kor-node after revocation: %+v", st)
	}
	if st := fedPeer(hub.Federation().Status(), "jpn-node"); st.State != "up" {
		t.Errorf("jpn-node: %+v", st)
	}
}
