package e2e

import (
	"crypto/tls"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// TestSecurityFederationRefusals: on the federation listener, a valid
// node certificate of a node that is not a declared peer, and a client
// (not node) certificate, are both refused; each refusal is audited and
// written to the security log.
func TestSecurityFederationRefusals(t *testing.T) {
	t.Parallel()
	sp := newSecPKI(t, "USA", "JPN")
	cfg := sp.cfg
	cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindFederation, Addr: "127.0.0.1:0"})
	cfg.Peers = []node.PeerConfig{{Name: "jpn-declared"}}
	n := secStart(t, cfg)
	addr := n.Addr(node.KindFederation)

	undeclared, err := sp.cas["JPN"].IssueNode("jpn-rogue", []string{"127.0.0.1"}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := sp.issue(t, "JPN", "SAKURA-1", label.Secret, pki.Validity{})
	cases := []struct {
		name     string
		cert     tls.Certificate
		category string
		text     string
	}{
		{"undeclared node", tls.Certificate{Certificate: [][]byte{undeclared.Cert.Raw}, PrivateKey: undeclared.Key}, node.SecFederation, `"node":"jpn-rogue"`},
		{"client certificate", client, node.SecFederation, pki.ErrNotNode.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.auditCount(t, "federation.refuse", "deny", "")
			c, err := secDialTLS(t, tc.name, addr, sp.clientTLS(&tc.cert))
			if err == nil {
				// The refusal may come after the client's side of the
				// handshake: the link must end without a byte.
				c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if nr, rerr := c.Conn.Read(make([]byte, 1)); rerr == nil || nr > 0 {
					t.Fatalf("federation link of %s not refused", tc.name)
				}
			}
			taktest.WaitUntil(t, "refusal audited", 5*time.Second, func() bool {
				return n.auditCount(t, "federation.refuse", "deny", "") == before+1
			})
			taktest.WaitUntil(t, "refusal in the security log", 5*time.Second, func() bool {
				return n.securityLogCount(t, tc.category, tc.text) >= 1
			})
		})
	}
	n.verifyAudit(t)
}
