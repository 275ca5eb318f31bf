package pki

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"kizuna/internal/label"
)

func TestInitCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jpn")
	ca, err := InitCA(dir, "jpn")
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert
	if !c.IsCA || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("basic constraints: IsCA %v MaxPathLen %d zero %v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 || c.KeyUsage&x509.KeyUsageCRLSign == 0 {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	if pk, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P384() {
		t.Errorf("CA key %T, want ECDSA P-384", c.PublicKey)
	}
	if c.Subject.Organization[0] != "JPN" || !strings.Contains(c.Subject.CommonName, "JPN") {
		t.Errorf("subject %v", c.Subject)
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("CA lifetime %v", life)
	}
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", fi.Mode(), err)
	}
	crlb, err := os.ReadFile(filepath.Join(dir, CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(crlb)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 0 || crl.CheckSignatureFrom(c) != nil {
		t.Errorf("initial CRL: %d entries, sig %v", len(crl.RevokedCertificateEntries), crl.CheckSignatureFrom(c))
	}
	if _, err := InitCA(dir, "JPN"); !errors.Is(err, ErrExists) {
		t.Errorf("second init: %v, want ErrExists", err)
	}
	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Nation != "JPN" || !loaded.Cert.Equal(c) {
		t.Errorf("loaded %v", loaded.Nation)
	}
	if _, err := LoadCA(t.TempDir()); !errors.Is(err, ErrNoCA) {
		t.Errorf("empty dir: %v", err)
	}
	os.Chmod(filepath.Join(dir, CAKeyFile), 0o644)
	if _, err := LoadCA(dir); !errors.Is(err, ErrBadCAPermission) {
		t.Errorf("world-readable key: %v", err)
	}
}

func TestIssueClient(t *testing.T) {
	ca := newCA(t, "JPN")
	iss, err := ca.IssueClient(Identity{Name: "VIPER1", Nation: "JPN", Clearance: label.TopSecret, Role: "role:Commander"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	c := iss.Cert
	want := pkix.Name{CommonName: "VIPER1", Organization: []string{"JPN"}, OrganizationalUnit: []string{"TOP SECRET", "role:commander"}}
	if c.Subject.String() != want.String() {
		t.Errorf("subject %q, want %q", c.Subject, want)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || c.IsCA {
		t.Errorf("usage %v IsCA %v", c.ExtKeyUsage, c.IsCA)
	}
	if err := c.CheckSignatureFrom(ca.Cert); err != nil {
		t.Error(err)
	}
	tests := []struct {
		name string
		id   Identity
		err  error
	}{
		{"other nation", Identity{Name: "X", Nation: "USA", Clearance: label.Secret}, ErrNationMismatch},
		{"bad role", Identity{Name: "X", Nation: "JPN", Clearance: label.Secret, Role: "king"}, ErrRole},
		{"no clearance", Identity{Name: "X", Nation: "JPN"}, label.ErrClassification},
		{"empty name", Identity{Nation: "JPN", Clearance: label.Secret}, ErrName},
		{"slash in name", Identity{Name: "a/b", Nation: "JPN", Clearance: label.Secret}, ErrName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.IssueClient(tc.id, Validity{}); !errors.Is(err, tc.err) {
				t.Errorf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestIssueServerAndNode(t *testing.T) {
	ca := newCA(t, "KOR")
	s, err := ca.IssueServer([]string{"tak.kor.example", "127.0.0.1", "::1"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Cert.VerifyHostname("tak.kor.example"); err != nil {
		t.Error(err)
	}
	if err := s.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if !slices.Equal(s.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server usage %v", s.Cert.ExtKeyUsage)
	}
	if _, err := ca.IssueServer(nil, Validity{}); !errors.Is(err, ErrNoHosts) {
		t.Errorf("no hosts: %v", err)
	}
	if _, err := ca.IssueServer([]string{"bad host!"}, Validity{}); !errors.Is(err, ErrName) {
		t.Errorf("bad host: %v", err)
	}
	n, err := ca.IssueNode("kor-jcs", []string{"10.0.0.1"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Cert.Subject.CommonName != "kor-jcs" || n.Cert.Subject.Organization[0] != "KOR" || !slices.Contains(n.Cert.Subject.OrganizationalUnit, NodeOU) {
		t.Errorf("node subject %v", n.Cert.Subject)
	}
	if !slices.Contains(n.Cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(n.Cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("node usage %v", n.Cert.ExtKeyUsage)
	}
	if err := n.Cert.VerifyHostname("kor-jcs"); err != nil {
		t.Errorf("node id not a SAN: %v", err)
	}
}

func TestSignCSRTakesSubjectFromIdentity(t *testing.T) {
	ca := newCA(t, "USA")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "admin", Organization: []string{"JPN"}, OrganizationalUnit: []string{"TOP SECRET", "role:admin", "caveat:NOFORN"}},
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	c, err := ca.SignCSR(csr, Identity{Name: "eagle", Nation: "USA", Clearance: label.Confidential}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.String() != "CN=eagle,OU=CONFIDENTIAL,O=USA" {
		t.Errorf("subject %q: the CSR's claims leaked through", c.Subject)
	}
	if !publicKeysEqual(c.PublicKey, &k.PublicKey) {
		t.Error("certificate does not carry the CSR's key")
	}
	csr.Signature[5] ^= 0xff
	if _, err := ca.SignCSR(csr, Identity{Name: "eagle", Nation: "USA", Clearance: label.Confidential}, Validity{}); !errors.Is(err, ErrCSR) {
		t.Errorf("tampered CSR: %v", err)
	}
}

func TestRevokeAndSerials(t *testing.T) {
	ca := newCA(t, "JPN")
	// Concurrent issuing never reuses a serial.
	var wg sync.WaitGroup
	var mu sync.Mutex
	serials := map[string]bool{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iss, err := ca.IssueClient(Identity{Name: "U", Nation: "JPN", Clearance: label.Secret}, Validity{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			serials[iss.Cert.SerialNumber.String()] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(serials) != 8 {
		t.Fatalf("%d distinct serials for 8 certificates", len(serials))
	}
	readCRL := func() *x509.RevocationList {
		b, _ := os.ReadFile(filepath.Join(ca.Dir, CRLFile))
		crl, err := ParseCRL(b)
		if err != nil {
			t.Fatal(err)
		}
		return crl
	}
	before := readCRL().Number
	if err := ca.Revoke(big.NewInt(3), ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	crl := readCRL()
	if crl.Number.Cmp(before) <= 0 {
		t.Errorf("CRL number %v not above %v", crl.Number, before)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 3 {
		t.Errorf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	if err := ca.Revoke(big.NewInt(3), 0); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("second revoke: %v", err)
	}
	if err := ca.Revoke(big.NewInt(999), 0); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("unknown serial: %v", err)
	}
	// A second process (here: a second handle) sees the same state.
	other, err := LoadCA(ca.Dir)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := other.IssueClient(Identity{Name: "V", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Cert.SerialNumber.Int64() != 10 {
		t.Errorf("serial %v, want 10", iss.Cert.SerialNumber)
	}
}

func TestWritePackage(t *testing.T) {
	ca := newCA(t, "JPN")
	iss, err := ca.IssueClient(Identity{Name: "VIPER1", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := PackageBytes(PackageConfig{Server: "tak.jpn.example:8089", CA: ca.Cert, Client: iss, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var m manifest
	if err := xml.Unmarshal(files["MANIFEST/manifest.xml"], &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Version != "2" || len(m.Content) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	params := map[string]string{}
	for _, p := range m.Params {
		params[p.Name] = p.Value
	}
	if params["uid"] == "" || params["name"] != "tak.jpn.example" {
		t.Errorf("manifest parameters %v", params)
	}
	for _, c := range m.Content {
		if _, ok := files[c.ZipEntry]; !ok {
			t.Errorf("manifest lists %q, not in the zip", c.ZipEntry)
		}
	}
	var p prefs
	if err := xml.Unmarshal(files["certs/tak.jpn.example.pref"], &p); err != nil {
		t.Fatalf("pref: %v", err)
	}
	kv := map[string]string{}
	for _, pr := range p.Prefs {
		for _, e := range pr.Entries {
			kv[pr.Name+"/"+e.Key] = e.Value
		}
	}
	for k, want := range map[string]string{
		"cot_streams/count":                                         "1",
		"cot_streams/connectString0":                                "tak.jpn.example:8089:ssl",
		"cot_streams/enabled0":                                      "true",
		"com.atakmap.app_preferences/caLocation":                    "cert/truststore-JPN.p12",
		"com.atakmap.app_preferences/certificateLocation":           "cert/VIPER1.p12",
		"com.atakmap.app_preferences/caPassword":                    "s3cret",
		"com.atakmap.app_preferences/clientPassword":                "s3cret",
		"com.atakmap.app_preferences/locationCallsign":              "VIPER1",
		"com.atakmap.app_preferences/displayServerConnectionWidget": "true",
	} {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q", k, kv[k], want)
		}
	}
	key, cert, chain, err := pkcs12.DecodeChain(files["certs/VIPER1.p12"], "s3cret")
	if err != nil {
		t.Fatalf("client p12: %v", err)
	}
	if !cert.Equal(iss.Cert) || !publicKeysEqual(key.(*ecdsa.PrivateKey).Public(), iss.Cert.PublicKey) || len(chain) != 1 || !chain[0].Equal(ca.Cert) {
		t.Error("client p12 content wrong")
	}
	trust, err := pkcs12.DecodeTrustStore(files["certs/truststore-JPN.p12"], "s3cret")
	if err != nil {
		t.Fatalf("truststore p12: %v", err)
	}
	if len(trust) != 1 || !trust[0].Equal(ca.Cert) {
		t.Error("truststore does not hold the CA")
	}
	if _, _, err := pkcs12.Decode(files["certs/VIPER1.p12"], "wrong"); err == nil {
		t.Error("client p12 opened with the wrong password")
	}
}

func TestEnrollmentPackage(t *testing.T) {
	ca := newCA(t, "JPN")
	b, err := PackageBytes(PackageConfig{Server: "10.1.2.3", CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	var pref []byte
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".pref") {
			rc, _ := f.Open()
			pref, _ = io.ReadAll(rc)
		}
	}
	for _, s := range []string{"10.1.2.3:8089:ssl", `"enrollForCertificateWithTrust0"`, `"useAuth0"`, `"caLocation0" class="class java.lang.String">cert/truststore-JPN.p12<`, DefaultPassword} {
		if !bytes.Contains(pref, []byte(s)) {
			t.Errorf("enrollment pref lacks %s:\n%s", s, pref)
		}
	}
	if _, err := PackageBytes(PackageConfig{Server: "x:99999", CA: ca.Cert}); !errors.Is(err, ErrPackage) {
		t.Errorf("bad port: %v", err)
	}
}
