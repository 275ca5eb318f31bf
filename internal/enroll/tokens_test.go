package enroll

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"kizuna/internal/pki"
	"kizuna/internal/users"
)

func (e *env) doBearer(t *testing.T, method, path, token, accept, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func withTokens(t *testing.T, e *env) *users.Tokens {
	t.Helper()
	ts, err := users.OpenTokens(filepath.Join(t.TempDir(), "enroll-tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.h.cfg.Tokens = ts
	return ts
}

// TestEnrollV1PKCS12: ATAK 4.x's v1 signClient gets a PKCS#12 store with
// the signed certificate and the CA.
func TestEnrollV1PKCS12(t *testing.T) {
	e := setup(t)
	csr, key := atakCSR(t, "viper1")
	resp := e.do(t, "POST", PathSignV1+"?clientUid=ANDROID-4", "viper1", "correct horse", "", csr)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pkcs12" {
		t.Fatalf("v1: %s %s", resp.Status, b)
	}
	certs, err := pkcs12.DecodeTrustStore(b, pki.DefaultPassword)
	if err != nil || len(certs) != 2 {
		t.Fatalf("decoding the reply: %d certs, %v", len(certs), err)
	}
	var signed bool
	for _, c := range certs {
		if key.PublicKey.Equal(c.PublicKey) {
			signed = true
			if _, err := e.ts.Identify(certs); err != nil && c.Subject.CommonName != "viper1" {
				t.Errorf("signed cert %v", c.Subject)
			}
		}
	}
	if !signed {
		t.Error("no certificate for the CSR's key")
	}
	if rs := records(t, e); rs[len(rs)-1].Action != "enroll.issue" || !strings.Contains(rs[len(rs)-1].Reason, PathSignV1) {
		t.Errorf("audit %+v", rs[len(rs)-1])
	}
	// Wrong password: refused like v2.
	if resp := e.do(t, "POST", PathSignV1, "viper1", "nope", "", csr); resp.StatusCode != 401 {
		t.Errorf("v1 wrong password: %s", resp.Status)
	}
}

func TestEnrollJSONHasCA1(t *testing.T) {
	e := setup(t)
	csr, _ := atakCSR(t, "viper1")
	resp := e.do(t, "POST", PathSign+"?clientUid=IOS-1", "viper1", "correct horse", "text/plain", csr)
	b, _ := io.ReadAll(resp.Body)
	var j map[string]string
	if resp.StatusCode != 200 || json.Unmarshal(b, &j) != nil {
		t.Fatalf("%s %s", resp.Status, b)
	}
	ca1, _ := base64.StdEncoding.DecodeString(j["ca1"])
	if string(ca1) != string(e.ca.Cert.Raw) || j["ca0"] == "" || j["signedCert"] == "" {
		t.Errorf("reply %s", b)
	}
}

// TestEnrollBearerToken: an operator's token enrolls its user once; a
// reused, expired or unknown token is refused and audited.
func TestEnrollBearerToken(t *testing.T) {
	e := setup(t)
	e.h.cfg.MaxFailures = 100 // the lockout is tested elsewhere
	ts := withTokens(t, e)
	tok, rec, err := ts.Issue("viper1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := e.doBearer(t, "GET", PathConfig, tok, "", ""); resp.StatusCode != 200 || !strings.Contains(string(b), "JPN") {
		t.Fatalf("config with token: %s %s", resp.Status, b)
	}
	csr, _ := atakCSR(t, "viper1")
	resp, b := e.doBearer(t, "POST", PathSign+"?clientUid=ANDROID-QR", tok, "application/json", csr)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "signedCert") {
		t.Fatalf("sign with token: %s %s", resp.Status, b)
	}
	rs := records(t, e)
	if last := rs[len(rs)-1]; last.Action != "enroll.issue" || last.Decision != "allow" || !strings.Contains(last.Reason, "token "+rec.ID) {
		t.Errorf("issue audit %+v", last)
	}

	expired, _, err := ts.Issue("viper1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ghost, _, err := ts.Issue("nobody", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, token, reason string
	}{
		{"reused on sign", PathSign, tok, "already used"},
		{"reused on config", PathConfig, tok, "already used"},
		{"unknown", PathSign, "kzt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown"},
		{"not a token", PathConfig, "eyJhbGciOi", "unknown"},
		{"user removed", PathSign, ghost, "no such user"},
		{"expired", PathSign, expired, "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.reason == "expired" {
				ts.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
				defer ts.SetClock(time.Now)
			}
			method := "POST"
			if tc.path == PathConfig {
				method = "GET"
			}
			resp, b := e.doBearer(t, method, tc.path, tc.token, "application/json", csr)
			if resp.StatusCode != 401 {
				t.Fatalf("%s: %s %s", tc.name, resp.Status, b)
			}
			rs := records(t, e)
			last := rs[len(rs)-1]
			if last.Action != "enroll.token" || last.Decision != "deny" || !strings.Contains(last.Reason, tc.reason) {
				t.Errorf("audit %+v", last)
			}
		})
	}
}

func TestEnrollProfile(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	e.h.cfg.ProfileDir = dir
	if resp := e.do(t, "GET", PathProfile, "viper1", "correct horse", "", ""); resp.StatusCode != 204 {
		t.Errorf("no profile: %s", resp.Status)
	}
	os.MkdirAll(filepath.Join(dir, "enrollment"), 0o700)
	os.WriteFile(filepath.Join(dir, "enrollment", "JPN-operator.zip"), []byte("PK\x05\x06op"), 0o600)
	resp := e.do(t, "GET", PathProfile, "viper1", "correct horse", "", "")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "PK\x05\x06op" {
		t.Errorf("profile: %s %q", resp.Status, b)
	}
}
