package node

import (
	"context"

	"crypto/tls"
	"encoding/json"
	"io"
	"kizuna/internal/taktest"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/nationca"
	"kizuna/internal/pki"
)

type testPKI struct {
	*nationca.PKI
	dir string
	cas map[string]*pki.CA
	cfg Config
}

// newTestPKI makes a CA per nation and a USA node certificate, and a node
// config with a TLS CoT listener and an HTTPS listener.
func newTestPKI(t *testing.T, nations ...string) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p, err := nationca.New(dir, nations...)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testPKI{PKI: p, dir: dir, cas: p.CAs}
	cfg := baseConfig(nil, nil)
	cfg.NodeID = "usa-node"
	cfg.Trust, cfg.CRL = p.Trust(), p.CRL()
	if cfg.TLSCert, cfg.TLSKey, err = p.NodeCert("USA", "usa-node", pki.Validity{}); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []ListenerConfig{
		{Kind: KindCoTTLS, Addr: "127.0.0.1:0"},
		{Kind: KindHTTPS, Addr: "127.0.0.1:0"},
		{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"},
	}
	tp.cfg = cfg
	return tp
}

func (tp *testPKI) client(t *testing.T, nation, name string, cl label.Classification) (tls.Certificate, *pki.Issued) {
	t.Helper()
	cert, is, err := tp.Client(nation, name, cl, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	return cert, is
}

func (tp *testPKI) clientTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *takClient {
	t.Helper()
	c, err := taktest.DialTLS(t, addr, cfg)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	return c
}

// TestTLS: principals come from client certificates; the label rules hold
// over TLS exactly as over plain TCP; HTTPS filters by the certificate's
// principal; a certificate revoked after connecting is disconnected.
func TestTLS(t *testing.T) {
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	n := startNode(t, tp.cfg)
	addr := addrOf(t, n, KindCoTTLS, "")

	jpnCert, _ := tp.client(t, "JPN", "SAKURA-1", label.Secret)
	usaCert, _ := tp.client(t, "USA", "EAGLE-1", label.Secret)
	korCert, korIssued := tp.client(t, "KOR", "TIGER-1", label.Secret)

	jpn := dialTLS(t, addr, tp.clientTLS(jpnCert))
	usa := dialTLS(t, addr, tp.clientTLS(usaCert))
	kor := dialTLS(t, addr, tp.clientTLS(korCert))
	for _, c := range []*takClient{jpn, usa, kor} {
		c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	}
	usa.SendEvent(event("tls-jpn-only", "a-f-G-U-C", `access="S" releasableTo="JPN"`))
	usa.SendEvent(event("tls-all", "a-f-G-U-C", `access="U" releasableTo="JPN KOR"`))
	got := jpn.Expect("tls-jpn-only", isUID("tls-jpn-only"), 5*time.Second)
	if got.Origin.Nation != "USA" {
		t.Errorf("origin from certificate = %+v", got.Origin)
	}
	kor.Expect("tls-all", isUID("tls-all"), 5*time.Second)
	for _, e := range kor.Collect(200 * time.Millisecond) {
		if e.UID == "tls-jpn-only" {
			t.Error("KOR certificate received a USA→JPN-only object over TLS")
		}
	}

	// HTTPS takes the principal from the certificate.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tp.clientTLS(korCert)}, Timeout: 5 * time.Second}
	resp, err := hc.Get("https://" + addrOf(t, n, KindHTTPS, "") + "/api/v1/objects")
	if err != nil {
		t.Fatal(err)
	}
	var o objectsResp
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if !o.has("tls-all") || o.has("tls-jpn-only") {
		t.Errorf("HTTPS objects for KOR: %s", b)
	}
	// HTTPS without a client certificate is refused at the handshake.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	if resp, err := anon.Get("https://" + addrOf(t, n, KindHTTPS, "") + "/api/v1/objects"); err == nil {
		resp.Body.Close()
		t.Error("HTTPS without a client certificate was served")
	}

	// A WebSocket stream over HTTPS with KOR's certificate.
	wsCtx, wsCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wsCancel()
	ws, _, err := websocket.Dial(wsCtx, "wss://"+addrOf(t, n, KindHTTPS, "")+"/api/v1/stream", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("websocket over HTTPS: %v", err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(wsCtx); err != nil {
		t.Fatalf("no snapshot: %v", err)
	}
	wsClosed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.Read(wsCtx); err != nil {
				wsClosed <- err
				return
			}
		}
	}()

	// Revoking KOR's certificate closes its live connection after a reload.
	if err := tp.cas["KOR"].Revoke(korIssued.Cert.SerialNumber, 0); err != nil {
		t.Fatal(err)
	}
	n.Reload()
	if !kor.Closed(5 * time.Second) {
		t.Error("connection of a revoked certificate still open")
	}
	select {
	case err := <-wsClosed:
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("stream of a revoked certificate ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("WebSocket stream of a revoked certificate still open")
	}
	// And it can no longer connect.
	if c, err := tls.Dial("tcp", addr, tp.clientTLS(korCert)); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if rerr == nil {
			t.Error("revoked certificate reconnected")
		}
	}
	jpn.SendEvent(event("still-working", "a-f-G-U-C", `access="U" releasableTo="USA"`))
	usa.Expect("still-working", isUID("still-working"), 5*time.Second)
}
