package nationca

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/pki"
)

// TestClientTLSVerifiesItsNation: a node certificate of USA verifies
// under ClientTLS("USA") and not under ClientTLS("JPN"); a client
// certificate carries the identity it was issued for; New reopens the
// CAs it created.
func TestClientTLSVerifiesItsNation(t *testing.T) {
	dir := t.TempDir()
	p, err := New(dir, "USA", "JPN")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := p.NodeCert("USA", "usa-node", pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		nation string
		ok     bool
	}{{"USA", true}, {"JPN", false}, {"KOR", false}}
	for _, tt := range tests {
		t.Run(tt.nation, func(t *testing.T) {
			cfg := p.ClientTLS(tt.nation, nil)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: cfg.ServerName})
			if (err == nil) != tt.ok {
				t.Fatalf("verify under %s: %v, want ok=%v", tt.nation, err, tt.ok)
			}
		})
	}

	cert, is, err := p.Client("JPN", "SAKURA-1", label.Secret, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf != is.Cert || is.Cert.Subject.CommonName != "SAKURA-1" {
		t.Fatalf("client certificate %+v", is.Cert.Subject)
	}
	if got := p.ClientTLS("USA", &cert).Certificates; len(got) != 1 {
		t.Fatalf("ClientTLS presents %d certificates, want 1", len(got))
	}
	if _, _, err := p.Client("KOR", "TIGER-1", label.Secret, pki.Validity{}); err == nil {
		t.Fatal("issued for a nation without a CA")
	}

	again, err := New(dir, "USA", "JPN")
	if err != nil {
		t.Fatal(err)
	}
	if !again.CAs["USA"].Cert.Equal(p.CAs["USA"].Cert) {
		t.Fatal("New did not reopen the existing USA CA")
	}
	if p.Trust()["JPN"] == "" || p.CRL()["USA"] == "" {
		t.Fatalf("trust %v, crl %v", p.Trust(), p.CRL())
	}
}
