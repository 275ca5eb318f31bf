package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kizuna/internal/label"
)

// Issued is a newly issued certificate with its private key (nil for a
// certificate signed from a CSR).
type Issued struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM returns the certificate in PEM.
func (i *Issued) CertPEM() []byte { return CertPEM(i.Cert) }

// KeyPEM returns the private key as PKCS#8 PEM.
func (i *Issued) KeyPEM() ([]byte, error) { return MarshalKeyPEM(i.Key) }

// ValidateName checks a CN: 1 to 64 printable characters, no slash,
// backslash, comma or control character (they would confuse file names,
// distinguished-name rendering and logs).
func ValidateName(s string) error {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: %q (1 to 64 characters, no leading or trailing space)", ErrName, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || strings.ContainsRune(`/\,+;<>="`, r) {
			return fmt.Errorf("%w: %q contains %q", ErrName, s, r)
		}
	}
	return nil
}

// ParseRole accepts "", "operator", "commander" or "admin" (with or without
// the "role:" prefix, any case) and returns the bare lower-case role.
func ParseRole(s string) (string, error) {
	r := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), RolePrefix))
	if r == "" || slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (want operator, commander or admin)", ErrRole, s)
}

func (ca *CA) checkIdentity(id Identity) (Identity, error) {
	if err := ValidateName(id.Name); err != nil {
		return id, err
	}
	n, err := label.ParseNation(id.Nation)
	if err != nil {
		return id, err
	}
	if n != ca.Nation {
		return id, fmt.Errorf("%w: certificate for %s requested from the %s CA", ErrNationMismatch, n, ca.Nation)
	}
	id.Nation = n
	if !id.Clearance.Valid() {
		return id, fmt.Errorf("%w: clearance not set", label.ErrClassification)
	}
	r, err := ParseRole(id.Role)
	if err != nil {
		return id, err
	}
	id.Role = r
	return id, nil
}

func (id Identity) subject() pkix.Name {
	ou := []string{id.Clearance.String()}
	if id.Role != "" {
		ou = append(ou, RolePrefix+id.Role)
	}
	return subjectName(id.Name, id.Nation, ou...)
}

var oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}

// subjectName builds O=nation, then each OU as its own RDN (rather than one
// multi-valued RDN, which some TLS stacks render or match poorly), then CN.
func subjectName(cn, nation string, ous ...string) pkix.Name {
	n := pkix.Name{CommonName: cn, Organization: []string{nation}}
	for _, ou := range ous {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidOU, Value: ou})
	}
	return n
}

// IssueClient issues a TAK client certificate (clientAuth) with a new ECDSA
// P-256 key. ATAK, iTAK and WinTAK accept P-256 client keys.
func (ca *CA) IssueClient(id Identity, v Validity) (*Issued, error) {
	id, err := ca.checkIdentity(id)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     id.subject(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := ca.sign(tmpl, &key.PublicKey, v, "client")
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// SignCSR signs an enrollment CSR. Only the CSR's public key is used: the
// subject comes entirely from id (the CA's user record), never from the CSR.
func (ca *CA) SignCSR(csr *x509.CertificateRequest, id Identity, v Validity) (*x509.Certificate, error) {
	id, err := ca.checkIdentity(id)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrCSR, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     id.subject(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	return ca.sign(tmpl, csr.PublicKey, v, "enrolled")
}

func checkPublicKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA key of %d bits (want at least 2048)", ErrUnsupportedKey, k.N.BitLen())
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, k)
}

// IssueServer issues a TLS server certificate (serverAuth) for the given
// host names and IP addresses. The CN is the first host.
func (ca *CA) IssueServer(hosts []string, v Validity) (*Issued, error) {
	if len(hosts) == 0 {
		return nil, ErrNoHosts
	}
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{ca.Nation}},
		DNSNames:    dns,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	cert, err := ca.sign(tmpl, &key.PublicKey, v, "server")
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// IssueNode issues a node certificate: CN = node id, O = the CA's nation,
// OU "node", usable both as a TLS server (client and enrollment listeners,
// federation) and as a federation client. Hosts become SANs; the node id is
// added as a DNS SAN when it is a valid host name.
func (ca *CA) IssueNode(nodeID string, hosts []string, v Validity) (*Issued, error) {
	if err := ValidateName(nodeID); err != nil {
		return nil, err
	}
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, err
	}
	if isDNSName(nodeID) && !slices.Contains(dns, nodeID) {
		dns = append(dns, nodeID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     subjectName(nodeID, ca.Nation, NodeOU),
		DNSNames:    dns,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	cert, err := ca.sign(tmpl, &key.PublicKey, v, "node")
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

func splitHosts(hosts []string) (dns []string, ips []net.IP, err error) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if !isDNSName(h) {
			return nil, nil, fmt.Errorf("%w: host %q is neither a DNS name nor an IP address", ErrName, h)
		}
		dns = append(dns, strings.ToLower(h))
	}
	return dns, ips, nil
}

func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(strings.TrimPrefix(s, "*."), ".") {
		if part == "" || len(part) > 63 || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// sign fills serial, validity and key ids, signs tmpl and records it in the
// CA's index.
func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, v Validity, kind string) (*x509.Certificate, error) {
	now := time.Now()
	nb, na := v.NotBefore, v.NotAfter
	if nb.IsZero() {
		nb = now.Add(-clockSkew)
	}
	if na.IsZero() {
		na = now.Add(leafDefault)
		if na.After(ca.Cert.NotAfter) {
			na = ca.Cert.NotAfter
		}
	}
	if !na.After(nb) {
		return nil, fmt.Errorf("%w: not after %v is not later than not before %v", ErrValidity, na, nb)
	}
	tmpl.NotBefore, tmpl.NotAfter = nb, na
	tmpl.BasicConstraintsValid = true
	if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
		s := sha1.Sum(der) // key identifier only (RFC 5280 method 1), not a security use
		tmpl.SubjectKeyId = s[:]
	}
	var cert *x509.Certificate
	err := ca.update(func(st *state) error {
		tmpl.SerialNumber = big.NewInt(st.NextSerial)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
		if err != nil {
			return fmt.Errorf("signing certificate: %w", err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		cert = c
		st.NextSerial++
		st.Issued = append(st.Issued, IssuedEntry{
			Serial: c.SerialNumber.String(), Kind: kind, Subject: c.Subject.String(),
			NotAfter: c.NotAfter.UTC(), IssuedAt: now.UTC(),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}
