package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/users"
)

// sakuraUsers writes a users file in sp's directory holding one user,
// sakura (JPN, SECRET, with role), and returns its path. The bcrypt cost
// is the minimum: the enrollment tests are about the flow, not the hash.
func sakuraUsers(t *testing.T, sp *secPKI, role, password string) string {
	t.Helper()
	usersFile := filepath.Join(sp.dir, "users.json")
	us, err := users.Open(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	us.SetCost(4)
	if err := us.Add(users.User{Name: "sakura", Nation: "JPN", Clearance: label.Secret, Role: role}, password); err != nil {
		t.Fatal(err)
	}
	return usersFile
}

// startEnrollNode starts sp's node with the users file, the JPN CA as
// the enrollment CA, an enrollment listener and the extra listeners. It
// returns the node, the enrollment listener's URL and an HTTPS client
// that verifies the node against the JPN CA (the enrollment listener asks
// for no client certificate).
func startEnrollNode(t *testing.T, sp *secPKI, usersFile string, extra ...node.ListenerConfig) (*secNode, string, *http.Client) {
	t.Helper()
	cfg := sp.cfg
	cfg.Users = usersFile
	cfg.EnrollCA = sp.cas["JPN"].Dir
	cfg.Listeners = append(append(cfg.Listeners, node.ListenerConfig{Kind: node.KindEnroll, Addr: "127.0.0.1:0"}), extra...)
	n := secStart(t, cfg)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: sp.clientTLS(nil)}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return n, "https://" + n.Addr(node.KindEnroll), hc
}

// newCSR returns a PEM certificate request for subject and its key.
func newCSR(t *testing.T, subject pkix.Name) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}
