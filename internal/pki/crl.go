package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"time"
)

// Revocation reason codes (RFC 5280 section 5.3.1) commonly used with
// Revoke. Codes 0 to 10 except 7 and 8 are accepted.
const (
	ReasonUnspecified   = 0
	ReasonKeyCompromise = 1
	ReasonAffiliation   = 3
	ReasonSuperseded    = 4
	ReasonCessation     = 5
)

// Revoke adds the certificate with this serial to the CA's revocation list
// and re-signs crl.pem with an increased CRL number. The serial must have
// been issued by this CA.
func (ca *CA) Revoke(serial *big.Int, reason int) error {
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("%w: %v", ErrUnknownSerial, serial)
	}
	if reason < 0 || reason > 10 || reason == 7 || reason == 8 {
		return fmt.Errorf("revocation reason %d not allowed", reason)
	}
	s := serial.String()
	return ca.update(func(st *state) error {
		found := false
		for _, e := range st.Issued {
			if e.Serial == s {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: %s", ErrUnknownSerial, s)
		}
		for _, r := range st.Revoked {
			if r.Serial == s {
				return fmt.Errorf("%w: %s", ErrAlreadyRevoked, s)
			}
		}
		st.Revoked = append(st.Revoked, RevokedEntry{Serial: s, Time: time.Now().UTC().Truncate(time.Second), Reason: reason})
		return ca.writeCRL(st)
	})
}

// RefreshCRL re-signs crl.pem with the current revocations, a new CRL
// number and a new next-update time (30 days ahead).
func (ca *CA) RefreshCRL() error {
	return ca.update(ca.writeCRL)
}

// writeCRL signs and writes crl.pem, incrementing st.CRLNumber. The caller
// holds the lock (or is creating the CA) and writes st afterwards.
func (ca *CA) writeCRL(st *state) error {
	st.CRLNumber++
	now := time.Now().UTC()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(st.CRLNumber),
		ThisUpdate: now.Add(-clockSkew),
		NextUpdate: now.Add(crlValidity),
	}
	for _, r := range st.Revoked {
		n, ok := new(big.Int).SetString(r.Serial, 10)
		if !ok {
			return fmt.Errorf("%s: bad revoked serial %q", StateFile, r.Serial)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: n, RevocationTime: r.Time, ReasonCode: r.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.key)
	if err != nil {
		return fmt.Errorf("signing CRL: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(ca.Dir, CRLFile), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return err
	}
	return nil
}

// ParseCRL parses a CRL in PEM ("X509 CRL") or DER.
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %q is not an X509 CRL", blk.Type)
		}
		b = blk.Bytes
	}
	if len(b) == 0 {
		return nil, errors.New("empty CRL file")
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parsing CRL: %w", err)
	}
	return crl, nil
}
