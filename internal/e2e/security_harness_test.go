package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cli"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/nationca"
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// secPKI is a CA per nation, the node's certificate and a node
// configuration trusting every CA, with their CRLs.
type secPKI struct {
	*nationca.PKI
	dir    string
	cas    map[string]*pki.CA
	nation string
	cfg    node.Config
}

// newSecPKI makes a CA for each nation and a node certificate for a node
// of the first nation, with listeners: TLS CoT, HTTPS, and a loopback HTTP
// listener (for /metrics) at the node's nation and SECRET.
func newSecPKI(t *testing.T, nations ...string) *secPKI {
	t.Helper()
	dir := t.TempDir()
	p, err := nationca.New(dir, nations...)
	if err != nil {
		t.Fatal(err)
	}
	sp := &secPKI{PKI: p, dir: dir, cas: p.CAs, nation: nations[0]}
	cfg := node.Default()
	cfg.DataDir = filepath.Join(sp.dir, "data")
	cfg.Nation = nations[0]
	cfg.NodeID = strings.ToLower(nations[0]) + "-node"
	cfg.Trust, cfg.CRL = p.Trust(), p.CRL()
	if cfg.TLSCert, cfg.TLSKey, err = p.NodeCert(nations[0], cfg.NodeID, pki.Validity{}); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []node.ListenerConfig{
		{Kind: node.KindCoTTLS, Addr: "127.0.0.1:0"},
		{Kind: node.KindHTTPS, Addr: "127.0.0.1:0"},
		{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: nations[0] + ":SECRET"},
	}
	sp.cfg = cfg
	return sp
}

// issue makes a client certificate of the nation's CA.
func (sp *secPKI) issue(t *testing.T, nation, name string, cl label.Classification, v pki.Validity) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	cert, is, err := sp.Client(nation, name, cl, v)
	if err != nil {
		t.Fatal(err)
	}
	return cert, is.Cert
}

// forge signs, with the nation's CA key, a client certificate whose
// subject says whatever subject says (the pki package refuses to).
func (sp *secPKI) forge(t *testing.T, nation string, subject pkix.Name) tls.Certificate {
	t.Helper()
	ca := sp.cas[nation]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clientTLS is a client configuration that verifies the node against the
// node nation's CA and presents cert (none when nil).
func (sp *secPKI) clientTLS(cert *tls.Certificate) *tls.Config { return sp.ClientTLS(sp.nation, cert) }

// secNode is a running node that the test may stop before its end (to
// verify the audit chain of a closed log).
type secNode struct {
	*node.Node
	dir  string
	once sync.Once
	err  error
}

func secLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func secStart(t *testing.T, cfg node.Config) *secNode {
	t.Helper()
	n, err := node.New(cfg, secLogger())
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start node: %v", err)
	}
	sn := &secNode{Node: n, dir: cfg.DataDir}
	t.Cleanup(func() {
		if err := sn.stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return sn
}

func (sn *secNode) stop() error {
	sn.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		sn.err = sn.Shutdown(ctx)
	})
	return sn.err
}

// metric reads one sample from the node's /metrics.
func (sn *secNode) metric(t *testing.T, sample string) float64 {
	t.Helper()
	return taktest.Metric(t, sn.Addr(node.KindHTTP), sample)
}

// auditCount counts audit records with the action whose reason contains
// part.
func (sn *secNode) auditCount(t *testing.T, action, decision, part string) int {
	t.Helper()
	n := 0
	err := audit.Read(sn.dir, func(r audit.Record) error {
		if r.Action == action && (decision == "" || r.Decision == decision) && strings.Contains(r.Reason, part) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// securityLogCount counts security log lines of the category containing part.
func (sn *secNode) securityLogCount(t *testing.T, category, part string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sn.dir, node.SecurityLogFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("security log line is not JSON: %s", line)
		}
		if m["category"] == category && bytes.Contains(line, []byte(part)) {
			n++
		}
	}
	return n
}

// verifyAudit stops the node, checks the audit chain with audit.Verify and
// with 'kizuna audit verify --data DIR' (exit 0).
func (sn *secNode) verifyAudit(t *testing.T) audit.Report {
	t.Helper()
	if err := sn.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	rep, err := audit.Verify(sn.dir)
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"audit", "verify", "--data", sn.dir}, cli.Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("kizuna audit verify: exit %d\n%s%s", code, out.String(), errb.String())
	}
	return rep
}

// secClient is the shared test TAK client, named after its holder.
type secClient = taktest.Client

// secDialTLS connects over TLS as name; the handshake error is returned so
// that refusal tests can inspect it.
func secDialTLS(t *testing.T, name, addr string, cfg *tls.Config) (*secClient, error) {
	t.Helper()
	c, err := taktest.DialTLS(t, addr, cfg)
	if err != nil {
		return nil, err
	}
	c.Name = name
	return c, nil
}

// secDialTCP connects over plain TCP as name.
func secDialTCP(t *testing.T, name, addr string) *secClient {
	t.Helper()
	c := taktest.Dial(t, addr)
	c.Name = name
	return c
}

// secUntil gathers every event c receives up to and including the one
// with uid last (the sender's final marker), then what arrives within
// 100 ms, by uid.
func secUntil(c *secClient, last string) map[string]*cot.Event {
	out := taktest.ByUID(c.CollectUntil(last, 5*time.Second))
	for uid, e := range taktest.ByUID(c.Collect(100 * time.Millisecond)) {
		out[uid] = e
	}
	return out
}

// secEvent builds a position event with extra event attributes and
// optional detail XML.
func secEvent(uid, attrs, detail string) *cot.Event {
	now := time.Now().UTC()
	doc := fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G-U-C" how="m-g" time="%s" start="%s" stale="%s" %s><point lat="35.6" lon="139.7" hae="10" ce="5" le="5"/><detail><contact callsign="%s"/>%s</detail></event>`,
		uid, now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Add(5*time.Minute).Format(time.RFC3339Nano), attrs, uid, detail)
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		panic(err)
	}
	return ev
}
