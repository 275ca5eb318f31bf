// Package enroll owns ATAK client-certificate enrollment: the HTTP endpoints
// TAK clients call on the enrollment port (8446) to obtain a client
// certificate with a user name and password.
//
//	GET  /Marti/api/tls/config              the subject entries to put in the CSR (XML)
//	POST /Marti/api/tls/signClient/v2       CSR in, signed certificate and CA out (XML or JSON)
//	POST /Marti/api/tls/signClient          v1 (ATAK 4.x): CSR in, PKCS#12 out
//	GET  /Marti/api/tls/profile/enrollment  the operator's enrollment profile for the user (zip), or 204
//
// Every request needs HTTP basic auth against the users file, or a Bearer
// enrollment token an operator issued for one user (single use, expiring;
// see users.Tokens and tokens.go). The issued
// certificate's subject comes from the user record (name, nation,
// clearance, role), never from the CSR, and its nation must be the CA's.
// Failed logins are audited and rate-limited per user and per address.
package enroll

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/pki"
	"kizuna/internal/seclog"
	"kizuna/internal/users"
)

// Endpoint paths.
const (
	PathConfig  = "/Marti/api/tls/config"
	PathSign    = "/Marti/api/tls/signClient/v2"
	PathSignV1  = "/Marti/api/tls/signClient"
	PathProfile = "/Marti/api/tls/profile/enrollment"
)

const maxCSRBytes = 64 << 10

// Auditor records security-relevant acts; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Config configures the enrollment handler.
type Config struct {
	CA    *pki.CA
	Users *users.Store
	Audit Auditor // may be nil only in tests; then nothing is audited
	Log   *slog.Logger
	// Validity of issued certificates (default: the CA's default, 2 years).
	Validity time.Duration
	// MaxFailures failed logins per user name, and per client address,
	// within Window lock that name or address out until the window ends
	// (defaults 5 and 15 minutes).
	MaxFailures int
	Window      time.Duration
	// AllowPlaintext serves requests that did not arrive over TLS. Never set
	// it outside tests: the password travels in the request.
	AllowPlaintext bool
	// Tokens enables Bearer enrollment tokens (nil: basic auth only).
	Tokens *users.Tokens
	// P12Password protects the v1 PKCS#12 reply (default
	// pki.DefaultPassword, the trust store password TAK tooling uses).
	P12Password string
	// ProfileDir holds enrollment/ device profiles (see marti.FindProfile).
	ProfileDir string
}

// Handler serves the enrollment endpoints.
type Handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	fails map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// Errors returned by New.
var ErrConfig = errors.New("invalid enrollment configuration")

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.CA == nil {
		return nil, fmt.Errorf("%w: no CA", ErrConfig)
	}
	if cfg.Users == nil {
		return nil, fmt.Errorf("%w: no users file", ErrConfig)
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	lg := cfg.Log
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		lg.Warn("enrollment without an audit log: logins and issued certificates are not audited")
	}
	return &Handler{cfg: cfg, log: lg, now: time.Now, fails: map[string]*window{}}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.TLS == nil && !h.cfg.AllowPlaintext {
		http.Error(w, "enrollment requires TLS", http.StatusForbidden)
		return
	}
	var method string
	switch r.URL.Path {
	case PathConfig, PathProfile:
		method = http.MethodGet
	case PathSign, PathSignV1:
		method = http.MethodPost
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var u users.User
	var token string
	var ok bool
	if tok, isBearer := bearer(r); isBearer {
		u, ok = h.authenticateToken(w, r, tok)
		token = tok
	} else {
		u, ok = h.authenticate(w, r)
	}
	if !ok {
		return
	}
	switch r.URL.Path {
	case PathConfig:
		h.serveConfig(w, u)
	case PathProfile:
		h.serveProfile(w, r, u)
	case PathSign, PathSignV1:
		h.serveSign(w, r, u, token)
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate checks basic auth with rate limiting; on failure it has
// already answered.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (users.User, bool) {
	name, pw, ok := r.BasicAuth()
	ip := remoteIP(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="kizuna enrollment", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return users.User{}, false
	}
	keys := []string{"user:" + name, "addr:" + ip}
	if wait := h.locked(keys); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+1)))
		h.log.Warn("enrollment login refused: too many failures", seclog.Tag(seclog.Enrollment), "user", name, "remote", ip)
		http.Error(w, "too many failed logins; try later", http.StatusTooManyRequests)
		return users.User{}, false
	}
	u, err := h.cfg.Users.Authenticate(name, pw)
	if err != nil {
		locked := h.fail(keys)
		reason := "wrong user name or password"
		if !errors.Is(err, users.ErrBadCredentials) {
			reason = err.Error()
			h.log.Error("enrollment: users file", "err", err)
		}
		if locked {
			reason += "; locked out for " + h.cfg.Window.String()
		}
		h.log.Warn("enrollment login failed", seclog.Tag(seclog.Enrollment), "user", name, "remote", ip, "reason", reason)
		if aerr := h.audit(r.Context(), audit.Record{
			Actor: "user:" + name, Action: "enroll.login", Object: ip, Decision: "deny", Reason: reason,
		}); aerr != nil {
			http.Error(w, "audit log unavailable", http.StatusServiceUnavailable)
			return users.User{}, false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="kizuna enrollment", charset="UTF-8"`)
		http.Error(w, "wrong user name or password", http.StatusUnauthorized)
		return users.User{}, false
	}
	h.succeed("user:" + name)
	return u, true
}

func (h *Handler) locked(keys []string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var wait time.Duration
	for _, k := range keys {
		wd := h.fails[k]
		if wd == nil || now.Sub(wd.start) >= h.cfg.Window {
			continue
		}
		if wd.n >= h.cfg.MaxFailures {
			wait = max(wait, wd.start.Add(h.cfg.Window).Sub(now))
		}
	}
	return wait
}

// fail counts a failure for each key and reports whether one became locked.
func (h *Handler) fail(keys []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if len(h.fails) > 100000 {
		for k, wd := range h.fails {
			if now.Sub(wd.start) >= h.cfg.Window {
				delete(h.fails, k)
			}
		}
	}
	locked := false
	for _, k := range keys {
		wd := h.fails[k]
		if wd == nil || now.Sub(wd.start) >= h.cfg.Window {
			wd = &window{start: now}
			h.fails[k] = wd
		}
		wd.n++
		if wd.n == h.cfg.MaxFailures {
			locked = true
		}
	}
	return locked
}

// succeed clears the user's failures (not the address's: one good account
// must not reset guessing at others from the same address).
func (h *Handler) succeed(key string) {
	h.mu.Lock()
	delete(h.fails, key)
	h.mu.Unlock()
}

func (h *Handler) audit(ctx context.Context, r audit.Record) error {
	if h.cfg.Audit == nil {
		return nil
	}
	if _, err := h.cfg.Audit.Append(ctx, r); err != nil {
		h.log.Error("enrollment: audit append failed", seclog.Tag(seclog.Audit), "err", err)
		return err
	}
	return nil
}

type nameEntry struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// certificateConfig is the document ATAK reads before building its CSR.
type certificateConfig struct {
	XMLName     xml.Name    `xml:"ns2:certificateConfig"`
	XMLNS       string      `xml:"xmlns,attr"`
	XMLNS2      string      `xml:"xmlns:ns2,attr"`
	NameEntries []nameEntry `xml:"nameEntries>nameEntry"`
}

func (h *Handler) serveConfig(w http.ResponseWriter, u users.User) {
	c := certificateConfig{
		XMLNS: "http://bbn.com/marti/xml/config", XMLNS2: "com.bbn.marti.config",
		NameEntries: []nameEntry{{"O", h.cfg.CA.Nation}, {"OU", u.Clearance.String()}},
	}
	b, err := xml.Marshal(c)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)
	w.Write(b)
}

// ErrCSR means the request body is not a usable CSR.
var ErrCSR = errors.New("request body is not a certificate signing request")

// ParseCSR reads a CSR as TAK clients send it: PEM, bare base64 of the DER
// (with or without line breaks), or raw DER.
func ParseCSR(body []byte) (*x509.CertificateRequest, error) {
	der := body
	trimmed := strings.TrimSpace(string(body))
	switch {
	case strings.HasPrefix(trimmed, "-----BEGIN"):
		blk, _ := pem.Decode([]byte(trimmed))
		if blk == nil || (blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST") {
			return nil, fmt.Errorf("%w: bad PEM", ErrCSR)
		}
		der = blk.Bytes
	case len(body) > 0 && body[0] == 0x30:
		// Raw DER (a SEQUENCE).
	default:
		compact := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, trimmed)
		var err error
		der, err = base64.StdEncoding.DecodeString(compact)
		if err != nil {
			if der, err = base64.RawStdEncoding.DecodeString(compact); err != nil {
				return nil, fmt.Errorf("%w: neither PEM, base64 nor DER", ErrCSR)
			}
		}
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrCSR, err)
	}
	return csr, nil
}

type signResponseXML struct {
	XMLName    xml.Name `xml:"enrollment"`
	SignedCert string   `xml:"signedCert"`
	CA         []string `xml:"ca"`
}

func (h *Handler) serveSign(w http.ResponseWriter, r *http.Request, u users.User, token string) {
	ip := remoteIP(r)
	uid := r.URL.Query().Get("clientUid")
	if uid == "" {
		uid = r.URL.Query().Get("clientUID")
	}
	actor := u.Principal().String()
	deny := func(status int, msg, reason string) {
		h.log.Warn("enrollment refused", seclog.Tag(seclog.Enrollment), "user", u.Name, "remote", ip, "client_uid", uid, "reason", reason)
		if err := h.audit(r.Context(), audit.Record{Actor: actor, Action: "enroll.issue", Object: "clientUid=" + uid, Decision: "deny", Reason: reason + " (from " + ip + ")"}); err != nil {
			http.Error(w, "audit log unavailable", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, msg, status)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCSRBytes))
	if err != nil {
		deny(http.StatusRequestEntityTooLarge, "CSR too large", "CSR over 64 KiB")
		return
	}
	csr, err := ParseCSR(body)
	if err != nil {
		deny(http.StatusBadRequest, "bad CSR", err.Error())
		return
	}
	if u.Nation != h.cfg.CA.Nation {
		deny(http.StatusForbidden, "user not enrollable here", fmt.Sprintf("user's nation %s differs from the CA's nation %s", u.Nation, h.cfg.CA.Nation))
		return
	}
	via := "password"
	if token != "" {
		// The token is used up here, before anything is signed: it can
		// never serve twice.
		rec, err := h.cfg.Tokens.Consume(token, "clientUid="+uid+" from "+ip)
		if err != nil {
			h.tokenRefused(w, r, rec, err)
			return
		}
		via = "token " + rec.ID
	}
	var v pki.Validity
	if h.cfg.Validity > 0 {
		now := h.now()
		v = pki.Validity{NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(h.cfg.Validity)}
	}
	cert, err := h.cfg.CA.SignCSR(csr, pki.Identity{Name: u.Name, Nation: u.Nation, Clearance: u.Clearance, Role: u.Role}, v)
	if err != nil {
		if errors.Is(err, pki.ErrUnsupportedKey) || errors.Is(err, pki.ErrCSR) || errors.Is(err, pki.ErrName) {
			deny(http.StatusBadRequest, "bad CSR", err.Error())
			return
		}
		h.log.Error("enrollment: signing failed", "user", u.Name, "err", err)
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	// The record is durable before the certificate leaves the node.
	if err := h.audit(r.Context(), audit.Record{
		Actor: actor, Action: "enroll.issue", Object: "serial=" + cert.SerialNumber.String(), Decision: "allow",
		Reason: fmt.Sprintf("client certificate %s for clientUid %q from %s by %s (%s), valid until %s", cert.Subject, uid, ip, via, r.URL.Path, cert.NotAfter.UTC().Format(time.RFC3339)),
	}); err != nil {
		http.Error(w, "audit log unavailable", http.StatusServiceUnavailable)
		return
	}
	h.log.Info("enrollment: issued client certificate", seclog.Tag(seclog.Enrollment), "user", u.Name, "principal", actor, "serial", cert.SerialNumber, "client_uid", uid, "remote", ip)
	if r.URL.Path == PathSignV1 {
		h.writeV1(w, cert)
		return
	}
	h.writeV2(w, r, cert)
}

// writeV2 answers a v2 signing request with the certificate and its CA:
// JSON (also to iTAK's text/plain) or XML, as the client accepts.
func (h *Handler) writeV2(w http.ResponseWriter, r *http.Request, cert *x509.Certificate) {
	signed := base64.StdEncoding.EncodeToString(cert.Raw)
	ca := base64.StdEncoding.EncodeToString(h.cfg.CA.Cert.Raw)
	// ca0 is the issuing CA, ca1 the root of its chain: with a national
	// CA that signs directly, the same certificate. iTAK requires ca1.
	reply := map[string]string{"signedCert": signed, "ca0": ca, "ca1": ca}
	accept := strings.ToLower(strings.TrimSpace(r.Header.Get("Accept")))
	switch {
	case accept == "text/plain":
		// iTAK asks for text/plain and parses JSON.
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		json.NewEncoder(w).Encode(reply)
	case strings.Contains(accept, "application/json") || accept == "*/*":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply)
	default:
		b, err := xml.Marshal(signResponseXML{SignedCert: signed, CA: []string{ca}})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
		io.WriteString(w, xml.Header)
		w.Write(b)
	}
}
