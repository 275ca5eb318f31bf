package enroll

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"kizuna/internal/audit"
	"kizuna/internal/marti"
	"kizuna/internal/pki"
	"kizuna/internal/seclog"
	"kizuna/internal/users"
)

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if len(a) < 7 || !strings.EqualFold(a[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(a[7:]), true
}

// authenticateToken checks a Bearer enrollment token without using it up
// (the configuration request comes before the CSR); the user is the one
// the operator issued it for, read from the users file now. Every refusal
// is audited and counts towards the per-address lockout.
func (h *Handler) authenticateToken(w http.ResponseWriter, r *http.Request, tok string) (users.User, bool) {
	ip := remoteIP(r)
	keys := []string{"addr:" + ip}
	if wait := h.locked(keys); wait > 0 {
		http.Error(w, "too many failed logins; try later", http.StatusTooManyRequests)
		return users.User{}, false
	}
	if h.cfg.Tokens == nil || !users.LooksLikeToken(tok) {
		h.tokenRefused(w, r, users.Token{}, users.ErrTokenUnknown)
		return users.User{}, false
	}
	rec, err := h.cfg.Tokens.Check(tok)
	if err != nil {
		h.tokenRefused(w, r, rec, err)
		return users.User{}, false
	}
	u, err := h.cfg.Users.Get(rec.User)
	if err != nil {
		h.tokenRefused(w, r, rec, err)
		return users.User{}, false
	}
	return u, true
}

// tokenRefused audits and answers a refused token: 401, whatever the
// reason, so that a client cannot probe which tokens exist.
func (h *Handler) tokenRefused(w http.ResponseWriter, r *http.Request, rec users.Token, err error) {
	ip := remoteIP(r)
	h.fail([]string{"addr:" + ip})
	reason := err.Error()
	actor := "token:unknown"
	if rec.ID != "" {
		actor = "token:" + rec.ID + " user:" + rec.User
	}
	if !errors.Is(err, users.ErrTokenUnknown) && !errors.Is(err, users.ErrTokenUsed) &&
		!errors.Is(err, users.ErrTokenExpired) && !errors.Is(err, users.ErrNotFound) {
		h.log.Error("enrollment: token file", "err", err)
	}
	h.log.Warn("enrollment token refused", "remote", ip, "token", rec.ID, "reason", reason, seclog.Tag(seclog.Enrollment))
	if aerr := h.audit(r.Context(), audit.Record{Actor: actor, Action: "enroll.token", Object: ip, Decision: "deny", Reason: reason}); aerr != nil {
		http.Error(w, "audit log unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="kizuna enrollment"`)
	http.Error(w, "invalid, used or expired enrollment token", http.StatusUnauthorized)
}

// writeV1 answers the v1 signClient (ATAK 4.x): a PKCS#12 store holding
// the signed certificate ("signedCert") and the CA ("ca0") as certificate
// entries, protected with P12Password. The client keeps its private key;
// it pairs the signed certificate with it.
func (h *Handler) writeV1(w http.ResponseWriter, cert *x509.Certificate) {
	pw := h.cfg.P12Password
	if pw == "" {
		pw = pki.DefaultPassword
	}
	b, err := pkcs12.Legacy.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{
		{Cert: cert, FriendlyName: "signedCert"},
		{Cert: h.cfg.CA.Cert, FriendlyName: "ca0"},
	}, pw)
	if err != nil {
		h.log.Error("enrollment: encoding PKCS#12", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	w.Write(b)
}

// serveProfile answers the enrollment profile request with the zip the
// operator put under ProfileDir/enrollment/ for the user's nation and role,
// or 204.
func (h *Handler) serveProfile(w http.ResponseWriter, r *http.Request, u users.User) {
	marti.ServeProfile(w, r, h.cfg.ProfileDir, marti.ProfileEnrollment, u.Principal())
}
