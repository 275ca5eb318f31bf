package enroll

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"kizuna/internal/audit"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/users"
)

type env struct {
	ca     *pki.CA
	ts     *pki.TrustStore
	users  *users.Store
	log    *audit.Log
	data   string
	srv    *httptest.Server
	client *http.Client
	h      *Handler
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.InitCA(filepath.Join(dir, "ca"), "JPN")
	if err != nil {
		t.Fatal(err)
	}
	us, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	us.SetCost(bcrypt.MinCost)
	for _, u := range []struct {
		u  users.User
		pw string
	}{
		{users.User{Name: "viper1", Nation: "JPN", Clearance: label.Secret, Role: "operator"}, "correct horse"},
		{users.User{Name: "liaison", Nation: "USA", Clearance: label.Secret}, "wrong nation"},
	} {
		if err := us.Add(u.u, u.pw); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	al, err := audit.Open(data, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	h, err := New(Config{CA: ca, Users: us, Audit: al, MaxFailures: 3, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	node, err := ca.IssueNode("jpn-jjoc", []string{"127.0.0.1"}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pki.NewTrustStore(pki.TrustConfig{
		Trust: map[string]string{"JPN": filepath.Join(ca.Dir, pki.CACertFile)},
		CRL:   map[string]string{"JPN": filepath.Join(ca.Dir, pki.CRLFile)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = ts.EnrollTLS(tls.Certificate{Certificate: [][]byte{node.Cert.Raw}, PrivateKey: node.Key})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	return &env{ca: ca, ts: ts, users: us, log: al, data: data, srv: srv, client: client, h: h}
}

// atakCSR builds a CSR the way ATAK does (RSA 2048, subject from the
// config's name entries, body = bare base64 DER), but claiming more than
// the user is entitled to.
func atakCSR(t *testing.T, cn string) (string, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: []string{"USA"}, OrganizationalUnit: []string{"TOP SECRET", "role:admin"}},
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der), k
}

func (e *env) do(t *testing.T, method, path, user, pw, accept, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func records(t *testing.T, e *env) []audit.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.data, audit.SubDir, audit.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestEnrollEndToEnd(t *testing.T) {
	for _, tc := range []struct{ name, accept string }{{"json", "application/json"}, {"xml", ""}, {"itak text", "text/plain"}} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			// 1. The config ATAK reads before making its CSR.
			resp := e.do(t, "GET", PathConfig, "viper1", "correct horse", "", "")
			if resp.StatusCode != 200 {
				t.Fatalf("config: %s", resp.Status)
			}
			var cfg struct {
				XMLName xml.Name
				Entries []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"nameEntries>nameEntry"`
			}
			b, _ := io.ReadAll(resp.Body)
			if err := xml.Unmarshal(b, &cfg); err != nil {
				t.Fatalf("config XML: %v\n%s", err, b)
			}
			if cfg.XMLName.Local != "certificateConfig" || len(cfg.Entries) != 2 || cfg.Entries[0].Name != "O" || cfg.Entries[0].Value != "JPN" {
				t.Errorf("config %s", b)
			}
			// 2. The CSR, signed.
			csr, key := atakCSR(t, "viper1")
			resp = e.do(t, "POST", PathSign+"?clientUid=ANDROID-42&version=5.2", "viper1", "correct horse", tc.accept, csr)
			b, _ = io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("sign: %s: %s", resp.Status, b)
			}
			var signed, ca0 string
			if tc.accept == "" {
				var x struct {
					SignedCert string   `xml:"signedCert"`
					CA         []string `xml:"ca"`
				}
				if err := xml.Unmarshal(b, &x); err != nil {
					t.Fatalf("sign XML: %v\n%s", err, b)
				}
				signed, ca0 = x.SignedCert, x.CA[0]
			} else {
				var j map[string]string
				if err := json.Unmarshal(b, &j); err != nil {
					t.Fatalf("sign JSON: %v\n%s", err, b)
				}
				signed, ca0 = j["signedCert"], j["ca0"]
			}
			certDER, err := base64.StdEncoding.DecodeString(signed)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(certDER)
			if err != nil {
				t.Fatal(err)
			}
			if caDER, _ := base64.StdEncoding.DecodeString(ca0); string(caDER) != string(e.ca.Cert.Raw) {
				t.Error("ca0 is not the CA certificate")
			}
			// 3. The certificate passes the node's trust store with the
			// user record's identity, not the CSR's claims.
			p, err := e.ts.Identify([]*x509.Certificate{cert})
			if err != nil {
				t.Fatal(err)
			}
			want := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "viper1", Role: "operator"}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if !key.PublicKey.Equal(cert.PublicKey) {
				t.Error("certificate not for the CSR's key")
			}
			rs := records(t, e)
			last := rs[len(rs)-1]
			if last.Action != "enroll.issue" || last.Decision != "allow" || last.Object != "serial="+cert.SerialNumber.String() || !strings.Contains(last.Reason, "ANDROID-42") {
				t.Errorf("audit record %+v", last)
			}
		})
	}
}

func TestEnrollRefusals(t *testing.T) {
	e := setup(t)
	csr, _ := atakCSR(t, "x")
	// Wrong password: 401 and audited.
	resp := e.do(t, "POST", PathSign, "viper1", "wrong horse", "", csr)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	rs := records(t, e)
	if len(rs) != 1 || rs[0].Action != "enroll.login" || rs[0].Decision != "deny" || rs[0].Actor != "user:viper1" || rs[0].Object != "127.0.0.1" {
		t.Errorf("audit after wrong password: %+v", rs)
	}
	if _, err := audit.Verify(e.data); err != nil {
		t.Fatal(err)
	}
	// No credentials at all.
	if resp := e.do(t, "GET", PathConfig, "", "", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no auth: %s", resp.Status)
	}
	// A user of another nation cannot enroll at this CA.
	if resp := e.do(t, "POST", PathSign, "liaison", "wrong nation", "", csr); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign user: %s", resp.Status)
	}
	rs = records(t, e)
	if last := rs[len(rs)-1]; last.Decision != "deny" || !strings.Contains(last.Reason, "nation") {
		t.Errorf("foreign user audit %+v", last)
	}
	// Garbage instead of a CSR.
	if resp := e.do(t, "POST", PathSign, "viper1", "correct horse", "", "not a csr"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage CSR: %s", resp.Status)
	}
	// Profile and wrong methods and paths.
	if resp := e.do(t, "GET", PathProfile+"?clientUid=x", "viper1", "correct horse", "", ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("profile: %s", resp.Status)
	}
	if resp := e.do(t, "GET", PathSign, "viper1", "correct horse", "", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET sign: %s", resp.Status)
	}
	if resp := e.do(t, "GET", "/Marti/api/other", "viper1", "correct horse", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %s", resp.Status)
	}
}

func TestEnrollRateLimit(t *testing.T) {
	e := setup(t)
	now := time.Now()
	e.h.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if resp := e.do(t, "GET", PathConfig, "viper1", "guess", "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s", i, resp.Status)
		}
	}
	// Locked: even the right password is refused, without a bcrypt check.
	resp := e.do(t, "GET", PathConfig, "viper1", "correct horse", "", "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %s", resp.Status)
	}
	// The address is locked too, for other names.
	if resp := e.do(t, "GET", PathConfig, "liaison", "wrong nation", "", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("other user from the same address: %s", resp.Status)
	}
	rs := records(t, e)
	if len(rs) != 3 || !strings.Contains(rs[2].Reason, "locked out") {
		t.Errorf("audit records %+v", rs)
	}
	// After the window, the right password works again.
	now = now.Add(2 * time.Minute)
	if resp := e.do(t, "GET", PathConfig, "viper1", "correct horse", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("after the window: %s", resp.Status)
	}
}

func TestEnrollRequiresTLS(t *testing.T) {
	e := setup(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", PathConfig, nil)
	req.SetBasicAuth("viper1", "correct horse")
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("plaintext request: %d", rec.Code)
	}
}

func TestParseCSRForms(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}}, k)
	b64 := base64.StdEncoding.EncodeToString(der)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(i+64, len(b64))] + "\r\n")
	}
	for name, body := range map[string][]byte{
		"pem":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		"new pem": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}),
		"base64":  []byte(b64),
		"wrapped": []byte(wrapped.String()),
		"der":     der,
	} {
		if _, err := ParseCSR(body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := append([]byte(nil), der...)
	bad[len(bad)-3] ^= 0xff
	for name, body := range map[string][]byte{"empty": nil, "text": []byte("hello"), "bad signature": bad, "cert pem": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")} {
		if _, err := ParseCSR(body); !errors.Is(err, ErrCSR) {
			t.Errorf("%s: %v, want ErrCSR", name, err)
		}
	}
}

func FuzzParseCSR(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a", Organization: []string{"JPN"}}}, k)
	f.Add(der)
	f.Add([]byte(base64.StdEncoding.EncodeToString(der)))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN"))
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		csr, err := ParseCSR(body)
		if err == nil && csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}
