package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/enroll"
	"kizuna/internal/node"
)

// TestEnrollThroughNode: an ATAK-style enrollment against a real node.
// The user JPN/SECRET/operator posts a CSR with basic auth over TLS to the
// enrollment listener; the certificate it receives connects to the TLS CoT
// listener and HTTPS as JPN:SECRET (its subject comes from the users file,
// not from the CSR); a wrong password is refused with 401 and audited;
// the configuration endpoint answers; the audit chain verifies.
func TestEnrollThroughNode(t *testing.T) {
	t.Parallel()
	sp := newSecPKI(t, "JPN", "USA")
	const password = "sakura-password-1"
	usersFile := sakuraUsers(t, sp, "operator", password)
	n, enrollURL, hc := startEnrollNode(t, sp, usersFile,
		node.ListenerConfig{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: "USA:TOP SECRET"})
	do := func(method, path, user, pw string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, enrollURL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	// The enrollment listener is behind the same Host and Origin checks
	// as every HTTP listener: a rebound name or a cross-site page gets
	// nothing, not even the login prompt.
	for _, hdr := range []struct{ host, origin string }{{"evil.example:" + strings.Split(n.Addr(node.KindEnroll), ":")[1], ""}, {"", "https://evil.example"}} {
		req, _ := http.NewRequest("POST", enrollURL+enroll.PathSign, strings.NewReader("x"))
		req.SetBasicAuth("sakura", password)
		if hdr.host != "" {
			req.Host = hdr.host
		}
		if hdr.origin != "" {
			req.Header.Set("Origin", hdr.origin)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("enrollment with Host %q Origin %q: status %d, want 421 or 403", hdr.host, hdr.origin, resp.StatusCode)
		}
	}

	// GET /Marti/api/tls/config tells the client what to put in its CSR.
	resp, b := do("GET", enroll.PathConfig, "sakura", password, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `name="O" value="JPN"`) || !strings.Contains(string(b), `name="OU" value="SECRET"`) {
		t.Fatalf("config: %d %s", resp.StatusCode, b)
	}

	// A CSR whose subject claims to be an American TOP SECRET admin: the
	// node must ignore it and use the user record.
	csrPEM, key := newCSR(t, pkix.Name{CommonName: "sakura", Organization: []string{"USA"}, OrganizationalUnit: []string{"TOP SECRET", "role:admin"}})

	// A wrong password is refused and audited; nothing is signed.
	resp, _ = do("POST", enroll.PathSign+"?clientUid=ANDROID-1", "sakura", "wrong-password", strings.NewReader(string(csrPEM)))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
	}
	if got := n.auditCount(t, "enroll.login", "deny", ""); got != 1 {
		t.Errorf("%d enroll.login deny records, want 1", got)
	}
	if n.securityLogCount(t, node.SecEnrollment, "sakura") < 1 {
		t.Error("failed login not in the security log")
	}
	// No basic auth at all: 401 too.
	if resp, _ := do("POST", enroll.PathSign, "", "", strings.NewReader(string(csrPEM))); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d", resp.StatusCode)
	}

	resp, b = do("POST", enroll.PathSign+"?clientUid=ANDROID-1", "sakura", password, strings.NewReader(string(csrPEM)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign: %d %s", resp.StatusCode, b)
	}
	var signed struct {
		SignedCert string `json:"signedCert"`
		CA0        string `json:"ca0"`
	}
	if err := json.Unmarshal(b, &signed); err != nil {
		t.Fatalf("sign response: %v: %s", err, b)
	}
	der, err := base64.StdEncoding.DecodeString(signed.SignedCert)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if caDER, _ := base64.StdEncoding.DecodeString(signed.CA0); string(caDER) != string(sp.cas["JPN"].Cert.Raw) {
		t.Error("ca0 is not the JPN CA")
	}
	if got := leaf.Subject.Organization; len(got) != 1 || got[0] != "JPN" {
		t.Errorf("issued subject O = %v (CSR said USA)", got)
	}
	if n.auditCount(t, "enroll.issue", "allow", "ANDROID-1") != 1 {
		t.Error("issued certificate not audited")
	}
	enrolled := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}

	// HTTPS names the principal outright.
	hs := &http.Client{Transport: &http.Transport{TLSClientConfig: sp.clientTLS(&enrolled)}, Timeout: 5 * time.Second}
	t.Cleanup(hs.CloseIdleConnections)
	wr, err := hs.Get("https://" + n.Addr(node.KindHTTPS) + "/api/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	var who struct {
		Principal struct{ Nation, Clearance, Name, Role string } `json:"principal"`
	}
	err = json.NewDecoder(wr.Body).Decode(&who)
	wr.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if p := who.Principal; p.Nation != "JPN" || p.Clearance != "SECRET" || p.Name != "sakura" || p.Role != "operator" {
		t.Errorf("whoami = %+v, want sakura JPN SECRET operator", p)
	}

	// Over TLS CoT it receives exactly what JPN:SECRET may receive.
	usa := secDialTCP(t, "usa", n.Addr(node.KindCoTTCP))
	usa.Offered()
	c, err := secDialTLS(t, "enrolled", n.Addr(node.KindCoTTLS), sp.clientTLS(&enrolled))
	if err != nil {
		t.Fatal(err)
	}
	c.Offered()
	usa.SendEvent(secEvent("enr-s-jpn", `access="SECRET" releasableTo="JPN"`, ""))
	usa.SendEvent(secEvent("enr-ts-jpn", `access="TOP SECRET" releasableTo="JPN"`, ""))
	usa.SendEvent(secEvent("enr-s-kor", `access="SECRET" releasableTo="KOR"`, ""))
	usa.SendEvent(secEvent("enr-u-usa", ``, "")) // default: USA only
	usa.SendEvent(secEvent("enr-end", `access="UNCLASSIFIED" releasableTo="JPN"`, ""))
	got := secUntil(c, "enr-end")
	if _, ok := got["enr-s-jpn"]; !ok {
		t.Error("enrolled JPN:SECRET client did not receive a SECRET object releasable to JPN")
	}
	for _, uid := range []string{"enr-ts-jpn", "enr-s-kor", "enr-u-usa"} {
		if _, ok := got[uid]; ok {
			t.Errorf("enrolled JPN:SECRET client received %s", uid)
		}
	}
	// Its own events carry JPN as originator.
	c.SendEvent(secEvent("enr-own", `access="UNCLASSIFIED" releasableTo="USA"`, `<__origin nation="USA" node="forged"/>`))
	ev := usa.Expect("enr-own", func(e *cot.Event) bool { return e.UID == "enr-own" }, 5*time.Second)
	if ev.Origin.Nation != "JPN" || ev.Origin.Node != sp.cfg.NodeID {
		t.Errorf("origin of the enrolled client's event = %+v", ev.Origin)
	}

	rep := n.verifyAudit(t)
	if rep.Records < 4 {
		t.Errorf("audit chain has %d records", rep.Records)
	}
}
