package e2e

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// TestSecurityRefusals: every kind of bad client certificate is refused at
// the handshake, on the TLS CoT listener and on HTTPS alike, and each
// refusal is logged (security log), counted (kizuna_connections_refused_total
// {reason="tls"}) and audited; a good certificate still connects; the audit
// chain verifies afterwards.
func TestSecurityRefusals(t *testing.T) {
	t.Parallel()
	sp := newSecPKI(t, "USA", "JPN")
	hour := time.Hour
	now := time.Now()

	revokedCert, revokedX := sp.issue(t, "JPN", "REVOKED-1", label.Secret, pki.Validity{})
	if err := sp.cas["JPN"].Revoke(revokedX.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	expired, _ := sp.issue(t, "JPN", "EXPIRED-1", label.Secret, pki.Validity{NotBefore: now.Add(-48 * hour), NotAfter: now.Add(-24 * hour)})
	future, _ := sp.issue(t, "JPN", "FUTURE-1", label.Secret, pki.Validity{NotBefore: now.Add(24 * hour), NotAfter: now.Add(48 * hour)})
	// A CA that calls itself JPN but is not the JPN CA the node trusts.
	rogueCA, err := pki.InitCA(t.TempDir(), "JPN")
	if err != nil {
		t.Fatal(err)
	}
	rogueIs, err := rogueCA.IssueClient(pki.Identity{Name: "ROGUE-1", Nation: "JPN", Clearance: label.TopSecret}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	rogue := tls.Certificate{Certificate: [][]byte{rogueIs.Cert.Raw}, PrivateKey: rogueIs.Key}
	// Signed by the real JPN CA, but claiming to be American.
	impostor := sp.forge(t, "JPN", pkix.Name{CommonName: "IMPOSTOR-1", Organization: []string{"USA"}, OrganizationalUnit: []string{"SECRET"}})
	good, _ := sp.issue(t, "JPN", "SAKURA-1", label.Secret, pki.Validity{})

	n := secStart(t, sp.cfg)
	cotAddr, httpsAddr := n.Addr(node.KindCoTTLS), n.Addr(node.KindHTTPS)

	cases := []struct {
		name   string
		cert   *tls.Certificate
		reason string // in the log, the metric's audit record and the security log
	}{
		{"revoked", &revokedCert, pki.ErrRevoked.Error()},
		{"expired", &expired, pki.ErrExpired.Error()},
		{"not yet valid", &future, pki.ErrNotYetValid.Error()},
		{"unknown CA", &rogue, pki.ErrUnknownCA.Error()},
		{"no client certificate", nil, pki.ErrNoClientCert.Error()},
		{"subject O of another nation", &impostor, pki.ErrNationMismatch.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.metric(t, `kizuna_connections_refused_total{reason="tls"}`)
			auditBefore := n.auditCount(t, "tls.refuse", "deny", tc.reason)
			logBefore := n.securityLogCount(t, node.SecTLS, tc.reason)

			// TLS CoT: with TLS 1.3 the client may finish its side before
			// the server refuses, so the refusal shows as a failed dial or
			// as a connection that ends without a single event.
			c, err := secDialTLS(t, "cot "+tc.name, cotAddr, sp.clientTLS(tc.cert))
			if err == nil && !c.Refused(5*time.Second) {
				t.Fatal("TLS CoT connection was not refused")
			}
			taktest.WaitUntil(t, "CoT refusal counted", 5*time.Second, func() bool {
				return n.metric(t, `kizuna_connections_refused_total{reason="tls"}`) == before+1
			})

			// HTTPS: no response.
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: sp.clientTLS(tc.cert), DisableKeepAlives: true}, Timeout: 5 * time.Second}
			if resp, err := hc.Get("https://" + httpsAddr + "/api/v1/objects"); err == nil {
				resp.Body.Close()
				t.Fatalf("HTTPS answered %d", resp.StatusCode)
			}
			hc.CloseIdleConnections()
			taktest.WaitUntil(t, "HTTPS refusal counted", 5*time.Second, func() bool {
				return n.metric(t, `kizuna_connections_refused_total{reason="tls"}`) >= before+2
			})
			taktest.WaitUntil(t, "refusals audited with their reason", 5*time.Second, func() bool {
				return n.auditCount(t, "tls.refuse", "deny", tc.reason) >= auditBefore+2
			})
			if got := n.securityLogCount(t, node.SecTLS, tc.reason); got < logBefore+2 {
				t.Errorf("security log has %d lines for %q, want at least %d", got, tc.reason, logBefore+2)
			}
		})
	}

	// The good certificate still connects, on both listeners.
	c, err := secDialTLS(t, "good", cotAddr, sp.clientTLS(&good))
	if err != nil {
		t.Fatal(err)
	}
	c.Offered()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: sp.clientTLS(&good)}, Timeout: 5 * time.Second}
	resp, err := hc.Get("https://" + httpsAddr + "/api/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("good certificate over HTTPS: %d", resp.StatusCode)
	}
	hc.CloseIdleConnections()

	// A certificate revoked while its holder is connected: after the CRL
	// is re-read (SIGHUP), the connection is closed, logged and audited,
	// and the holder cannot come back.
	live, liveX := sp.issue(t, "JPN", "SAKURA-2", label.Secret, pki.Validity{})
	lc, err := secDialTLS(t, "live", cotAddr, sp.clientTLS(&live))
	if err != nil {
		t.Fatal(err)
	}
	lc.Offered()
	if err := sp.cas["JPN"].Revoke(liveX.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	n.Reload()
	if !lc.Closed(5 * time.Second) {
		t.Fatal("connection of a certificate revoked meanwhile still open")
	}
	taktest.WaitUntil(t, "revocation audited", 5*time.Second, func() bool {
		return n.auditCount(t, "disconnect", "info", "certificate revoked") == 1
	})
	if n.securityLogCount(t, node.SecRevocation, "") < 1 || n.securityLogCount(t, node.SecConnection, "certificate revoked") < 1 {
		t.Error("revocation not in the security log")
	}
	if c, err := secDialTLS(t, "live again", cotAddr, sp.clientTLS(&live)); err == nil && !c.Refused(5*time.Second) {
		t.Error("certificate revoked meanwhile connected again")
	}

	rep := n.verifyAudit(t)
	if rep.Records == 0 {
		t.Error("audit chain is empty")
	}
	// Every refusal names the remote address.
	if n.auditCount(t, "tls.refuse", "deny", "") < 2*len(cases) {
		t.Errorf("fewer tls.refuse records than refusals")
	}
}
