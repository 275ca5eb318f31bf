package e2e

import (
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"kizuna/internal/enroll"
	"kizuna/internal/pki"
	"kizuna/internal/users"
)

// TestEnrollPathsThroughNode: every enrollment path against a real node's
// enrollment listener: v1 signClient with a PKCS#12 reply (ATAK 4.x), v2
// JSON with ca0 and ca1 (iTAK), and an operator's Bearer token (ATAK 5
// token/QR) which enrolls once; a reused, an expired and an unknown token
// are refused and audited.
func TestEnrollPathsThroughNode(t *testing.T) {
	t.Parallel()
	sp := newSecPKI(t, "JPN", "USA")
	const password = "sakura-password-1"
	usersFile := sakuraUsers(t, sp, "", password)
	toks, err := users.OpenTokens(users.TokensPath(usersFile))
	if err != nil {
		t.Fatal(err)
	}
	token, rec, err := toks.Issue("sakura", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, expRec, err := toks.Issue("sakura", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	backdate(t, users.TokensPath(usersFile), expRec.ID)

	n, enrollURL, hc := startEnrollNode(t, sp, usersFile)
	csr := func() ([]byte, *ecdsa.PrivateKey) { return newCSR(t, pkix.Name{CommonName: "sakura"}) }
	do := func(method, path, auth, accept string, body []byte) (int, []byte, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, enrollURL+path, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		if auth == "basic" {
			req.SetBasicAuth("sakura", password)
		} else if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}

	t.Run("v1 PKCS#12", func(t *testing.T) {
		body, key := csr()
		st, b, h := do("POST", enroll.PathSignV1+"?clientUid=ANDROID-4&version=4.10", "basic", "", body)
		if st != 200 || h.Get("Content-Type") != "application/x-pkcs12" {
			t.Fatalf("v1: %d %s", st, b)
		}
		certs, err := pkcs12.DecodeTrustStore(b, pki.DefaultPassword)
		if err != nil || len(certs) != 2 {
			t.Fatalf("v1 reply: %d certs, %v", len(certs), err)
		}
		if !key.PublicKey.Equal(certs[0].PublicKey) && !key.PublicKey.Equal(certs[1].PublicKey) {
			t.Error("no certificate for the CSR's key")
		}
	})
	t.Run("v2 JSON with ca1", func(t *testing.T) {
		body, _ := csr()
		st, b, _ := do("POST", enroll.PathSign+"?clientUid=IOS-1", "basic", "text/plain", body)
		var j map[string]string
		if st != 200 || json.Unmarshal(b, &j) != nil || j["ca1"] == "" || j["ca0"] == "" {
			t.Fatalf("v2: %d %s", st, b)
		}
		if ca1, _ := base64.StdEncoding.DecodeString(j["ca1"]); string(ca1) != string(sp.cas["JPN"].Cert.Raw) {
			t.Error("ca1 is not the JPN CA")
		}
	})
	t.Run("bearer token", func(t *testing.T) {
		if st, b, _ := do("GET", enroll.PathConfig, token, "", nil); st != 200 {
			t.Fatalf("config with token: %d %s", st, b)
		}
		body, _ := csr()
		st, b, _ := do("POST", enroll.PathSign+"?clientUid=ANDROID-QR", token, "application/json", body)
		if st != 200 || !strings.Contains(string(b), "signedCert") {
			t.Fatalf("sign with token: %d %s", st, b)
		}
		if n.auditCount(t, "enroll.issue", "allow", "token "+rec.ID) != 1 {
			t.Error("token enrollment not audited")
		}
		for _, tc := range []struct{ name, token, reason string }{
			{"reused", token, "already used"},
			{"expired", expired, "expired"},
			{"unknown", "kzt_" + strings.Repeat("A", 43), "unknown"},
		} {
			if st, b, _ := do("POST", enroll.PathSign+"?clientUid=ANDROID-QR", tc.token, "application/json", body); st != 401 {
				t.Errorf("%s token: %d %s", tc.name, st, b)
			}
			if n.auditCount(t, "enroll.token", "deny", tc.reason) != 1 {
				t.Errorf("%s token refusal not audited", tc.name)
			}
		}
	})
	if rep := n.verifyAudit(t); rep.Records < 5 {
		t.Errorf("audit chain has %d records", rep.Records)
	}
}

// backdate makes one token of the file expired an hour ago.
func backdate(t *testing.T, path, id string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version int           `json:"version"`
		Tokens  []users.Token `json:"tokens"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for i := range f.Tokens {
		if f.Tokens[i].ID == id {
			f.Tokens[i].Expires = time.Now().Add(-time.Hour)
		}
	}
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
