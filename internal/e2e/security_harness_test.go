package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
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
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/takproto"
)

// secPKI is a CA per nation, the node's certificate and a node
// configuration trusting every CA, with their CRLs.
type secPKI struct {
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
	sp := &secPKI{dir: t.TempDir(), cas: map[string]*pki.CA{}, nation: nations[0]}
	cfg := node.Default()
	cfg.DataDir = filepath.Join(sp.dir, "data")
	cfg.Nation = nations[0]
	cfg.NodeID = strings.ToLower(nations[0]) + "-node"
	cfg.Trust, cfg.CRL = map[string]string{}, map[string]string{}
	for _, n := range nations {
		ca, err := pki.InitCA(filepath.Join(sp.dir, "ca-"+n), n)
		if err != nil {
			t.Fatal(err)
		}
		sp.cas[n] = ca
		cfg.Trust[n] = filepath.Join(ca.Dir, pki.CACertFile)
		cfg.CRL[n] = filepath.Join(ca.Dir, pki.CRLFile)
	}
	is, err := sp.cas[nations[0]].IssueNode(cfg.NodeID, []string{"127.0.0.1", "localhost"}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSCert, cfg.TLSKey = secWritePair(t, sp.dir, "node", is.Cert, is.Key)
	cfg.Listeners = []node.ListenerConfig{
		{Kind: node.KindCoTTLS, Addr: "127.0.0.1:0"},
		{Kind: node.KindHTTPS, Addr: "127.0.0.1:0"},
		{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: nations[0] + ":SECRET"},
	}
	sp.cfg = cfg
	return sp
}

func secWritePair(t *testing.T, dir, name string, cert *x509.Certificate, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	kp, err := pki.MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pki.CertPEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, kp, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// issue makes a client certificate of the nation's CA.
func (sp *secPKI) issue(t *testing.T, nation, name string, cl label.Classification, v pki.Validity) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	is, err := sp.cas[nation].IssueClient(pki.Identity{Name: name, Nation: nation, Clearance: cl}, v)
	if err != nil {
		t.Fatalf("issuing %s: %v", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}, is.Cert
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
func (sp *secPKI) clientTLS(cert *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(sp.cas[sp.nation].Cert)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

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
	resp, err := http.Get("http://" + sn.Addr(node.KindHTTP) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			fmt.Sscanf(v, "%g", &f)
			return f
		}
	}
	return 0
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

func secWait(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

// secClient is a TAK client over TLS or TCP, speaking XML or, after
// negotiate, TAK protocol v1.
type secClient struct {
	t      *testing.T
	name   string
	conn   net.Conn
	mu     sync.Mutex
	proto  bool
	events chan *cot.Event
	done   chan struct{}
}

func secDialTLS(t *testing.T, name, addr string, cfg *tls.Config) (*secClient, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return secWrap(t, name, conn), nil
}

func secDialTCP(t *testing.T, name, addr string) *secClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return secWrap(t, name, conn)
}

func secWrap(t *testing.T, name string, conn net.Conn) *secClient {
	c := &secClient{t: t, name: name, conn: conn, events: make(chan *cot.Event, 4096), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *secClient) read() {
	defer close(c.done)
	xs := cot.NewSplitter(0)
	var ps *takproto.Splitter
	for {
		c.mu.Lock()
		proto := c.proto
		c.mu.Unlock()
		if proto {
			if ps == nil {
				ps = takproto.NewSplitter(0)
				ps.Feed(xs.Rest())
			}
			n, err := c.conn.Read(ps.Buffer(32 << 10))
			ps.Commit(n)
			for {
				p, perr := ps.Next()
				if p == nil && perr == nil {
					break
				}
				if perr == nil {
					if ev, err := takproto.ToEvent(p); err == nil {
						c.events <- ev
					}
				}
			}
			if err != nil {
				return
			}
			continue
		}
		n, err := c.conn.Read(xs.Buffer(32 << 10))
		xs.Commit(n)
		for {
			doc, serr := xs.Next()
			if doc == nil && serr == nil {
				break
			}
			if serr != nil {
				continue
			}
			ev, derr := cot.DecodeUnchecked(doc)
			if derr != nil {
				continue
			}
			if ev.Type == "t-x-takp-r" {
				// Switch before the test sees the response, so that what
				// it sends next is framed.
				c.mu.Lock()
				c.proto = true
				c.mu.Unlock()
				c.events <- ev
				break
			}
			c.events <- ev
		}
		if err != nil {
			return
		}
	}
}

// expect waits for an event matching pred.
func (c *secClient) expect(what string, pred func(*cot.Event) bool) *cot.Event {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if pred(ev) {
				return ev
			}
		case <-c.done:
			// Drain what was read before the end.
			for {
				select {
				case ev := <-c.events:
					if pred(ev) {
						return ev
					}
				default:
					c.t.Fatalf("%s: connection ended waiting for %s", c.name, what)
					return nil
				}
			}
		case <-deadline:
			c.t.Fatalf("%s: timed out waiting for %s", c.name, what)
			return nil
		}
	}
}

func (c *secClient) offered() {
	c.t.Helper()
	c.expect("protocol offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" })
}

// negotiate switches the client to TAK protocol v1.
func (c *secClient) negotiate() {
	c.t.Helper()
	c.send(takproto.Request(time.Now()))
	c.expect("protocol response", func(e *cot.Event) bool { return e.Type == "t-x-takp-r" })
}

func (c *secClient) send(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// sendEvent writes ev in the client's current format.
func (c *secClient) sendEvent(ev *cot.Event) {
	c.t.Helper()
	c.mu.Lock()
	proto := c.proto
	c.mu.Unlock()
	if proto {
		b, err := takproto.MarshalEvent(nil, ev)
		if err != nil {
			c.t.Fatal(err)
		}
		c.send(b)
		return
	}
	c.send(ev.XML())
}

// refused reports whether the server ended the connection without sending
// a single event (a refused handshake shows as a read error).
func (c *secClient) refused(d time.Duration) bool {
	select {
	case <-c.done:
		return len(c.events) == 0
	case <-time.After(d):
		return false
	}
}

// until gathers every event received up to and including the one with
// uid last (the sender's final marker), then what arrives within 100 ms.
func (c *secClient) until(last string) map[string]*cot.Event {
	c.t.Helper()
	out := map[string]*cot.Event{}
	c.expect(last, func(e *cot.Event) bool {
		out[e.UID] = e
		return e.UID == last
	})
	for uid, e := range c.seen(100 * time.Millisecond) {
		out[uid] = e
	}
	return out
}

// seen gathers the uids received within d.
func (c *secClient) seen(d time.Duration) map[string]*cot.Event {
	out := map[string]*cot.Event{}
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			out[ev.UID] = ev
		case <-deadline:
			return out
		}
	}
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
