// Package pki owns Kizuna's public-key infrastructure: one certificate
// authority per nation (creation, issuing client, server and node
// certificates, signing enrollment CSRs, revocation lists), ATAK connection
// data packages, and the node's trust store that turns a verified client or
// peer certificate into a principal at the TLS handshake.
//
// Certificates name their holder: subject CN is the callsign, user or node
// id; O is the nation code, which must equal the nation of the CA that
// signed it; one OU is the clearance (for example SECRET); an optional OU
// "role:operator", "role:commander" or "role:admin" gives the role. Node
// certificates carry the OU "node" instead of a clearance. The nation of a
// principal is always that of the CA that verified it.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"kizuna/internal/label"
)

// File names inside a CA directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca.key"
	CRLFile    = "crl.pem"
	StateFile  = "ca.json"
	caLockFile = "lock"
	NodeOU     = "node"  // OU that marks a federation node certificate
	RolePrefix = "role:" // OU prefix of the role
	// CaveatPrefix is the OU prefix of a caveat the holder holds (one OU
	// per caveat, e.g. "caveat:NOFORN"): label.Principal.Caveats.
	CaveatPrefix = "caveat:"
	caValidity   = 10 * 365 * 24 * time.Hour
	leafDefault  = 2 * 365 * 24 * time.Hour
	crlValidity  = 30 * 24 * time.Hour
	clockSkew    = 5 * time.Minute
)

// Roles a certificate may carry.
var Roles = []string{"operator", "commander", "admin"}

// Sentinel errors callers branch on.
var (
	ErrExists          = errors.New("a CA already exists there")
	ErrNoCA            = errors.New("no CA there")
	ErrNationMismatch  = errors.New("nation differs from the CA's nation")
	ErrRole            = errors.New("unknown role")
	ErrName            = errors.New("invalid name")
	ErrUnknownSerial   = errors.New("no certificate with that serial was issued by this CA")
	ErrAlreadyRevoked  = errors.New("certificate already revoked")
	ErrCSR             = errors.New("invalid certificate signing request")
	ErrKeyMismatch     = errors.New("private key does not match the certificate")
	ErrUnsupportedKey  = errors.New("unsupported public key")
	ErrNoHosts         = errors.New("at least one host name or address is needed")
	ErrValidity        = errors.New("invalid validity period")
	ErrBadCAPermission = errors.New("CA key file is readable by others")
)

// CA is one nation's certificate authority, kept in a directory.
type CA struct {
	Dir    string
	Nation string
	Cert   *x509.Certificate
	key    crypto.Signer
	mu     sync.Mutex // serialises state changes within this process
}

// Identity is what a certificate says about its holder.
type Identity struct {
	Name      string               // CN: callsign, user or node id
	Nation    string               // O: must equal the CA's nation
	Clearance label.Classification // OU
	Role      string               // optional OU role:<Role>
}

// Validity bounds a certificate. Zero values mean "from 5 minutes ago" and
// "the default lifetime" (capped by the CA's own expiry).
type Validity struct {
	NotBefore, NotAfter time.Time
}

// state is the CA's serial and index file.
type state struct {
	Nation     string         `json:"nation"`
	NextSerial int64          `json:"next_serial"`
	CRLNumber  int64          `json:"crl_number"`
	Issued     []IssuedEntry  `json:"issued"`
	Revoked    []RevokedEntry `json:"revoked"`
}

// IssuedEntry is one line of the CA's index of issued certificates.
type IssuedEntry struct {
	Serial   string    `json:"serial"`
	Kind     string    `json:"kind"` // client, server, node, enrolled
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	IssuedAt time.Time `json:"issued_at"`
}

// RevokedEntry is one revoked certificate.
type RevokedEntry struct {
	Serial string    `json:"serial"`
	Time   time.Time `json:"time"`
	Reason int       `json:"reason"`
}

// InitCA creates a new national CA in dir: an ECDSA P-384 root valid for 10
// years, with O = nation, that may sign only end-entity certificates
// (MaxPathLen 0). It writes ca.pem, ca.key (0600), an empty signed crl.pem
// and the state file. It refuses to overwrite an existing CA.
func InitCA(dir, nation string) (*CA, error) {
	n, err := label.ParseNation(nation)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating CA directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "Kizuna " + n + " Root CA",
			Organization:       []string{n},
			OrganizationalUnit: []string{"Kizuna PKI"},
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := MarshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, CACertFile), CertPEM(cert), 0o644); err != nil {
		return nil, err
	}
	ca := &CA{Dir: dir, Nation: n, Cert: cert, key: key}
	st := &state{Nation: n, NextSerial: 2, CRLNumber: 0}
	if err := ca.writeCRL(st); err != nil {
		return nil, err
	}
	if err := ca.writeState(st); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCA opens the CA kept in dir.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (run 'kizuna pki init')", ErrNoCA, dir, CACertFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CACertFile, err)
	}
	kp := filepath.Join(dir, CAKeyFile)
	if fi, err := os.Stat(kp); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v, want 0600", ErrBadCAPermission, kp, fi.Mode().Perm())
	}
	keyPEM, err := os.ReadFile(kp)
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CAKeyFile, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("%s: %w", CAKeyFile, ErrKeyMismatch)
	}
	if !cert.IsCA || len(cert.Subject.Organization) != 1 {
		return nil, fmt.Errorf("%s: not a Kizuna national CA certificate", CACertFile)
	}
	n, err := label.ParseNation(cert.Subject.Organization[0])
	if err != nil {
		return nil, fmt.Errorf("%s: subject O: %w", CACertFile, err)
	}
	ca := &CA{Dir: dir, Nation: n, Cert: cert, key: key}
	if _, err := ca.readState(); err != nil {
		return nil, err
	}
	return ca, nil
}

// Signer returns the CA's private key (for tests and tools).
func (ca *CA) Signer() crypto.Signer { return ca.key }

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte { return CertPEM(ca.Cert) }

func (ca *CA) readState() (*state, error) {
	b, err := os.ReadFile(filepath.Join(ca.Dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoCA, ca.Dir, StateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CA state: %w", err)
	}
	var st state
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w", StateFile, err)
	}
	if st.Nation != ca.Nation {
		return nil, fmt.Errorf("%s: nation %q but the certificate says %q", StateFile, st.Nation, ca.Nation)
	}
	if st.NextSerial < 2 {
		return nil, fmt.Errorf("%s: next_serial %d out of range", StateFile, st.NextSerial)
	}
	return &st, nil
}

func (ca *CA) writeState(st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(ca.Dir, StateFile), append(b, '\n'), 0o600)
}

// update runs fn on the CA's state under an in-process mutex and an
// exclusive file lock, so that the CLI and a running enrollment server can
// share one CA directory, and writes the state back if fn succeeds.
func (ca *CA) update(fn func(st *state) error) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	lf, err := os.OpenFile(filepath.Join(ca.Dir, caLockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("locking CA: %w", err)
	}
	defer lf.Close()
	if err := lockFileBlocking(lf); err != nil {
		return fmt.Errorf("locking CA: %w", err)
	}
	defer unlockFile(lf)
	st, err := ca.readState()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return ca.writeState(st)
}

// Issued returns the CA's index of issued certificates.
func (ca *CA) Issued() ([]IssuedEntry, error) {
	st, err := ca.readState()
	if err != nil {
		return nil, err
	}
	return st.Issued, nil
}

// RevokedSerials returns the revoked entries.
func (ca *CA) RevokedSerials() ([]RevokedEntry, error) {
	st, err := ca.readState()
	if err != nil {
		return nil, err
	}
	return st.Revoked, nil
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// writeFileAtomic writes via a temporary file, fsync and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// MarshalKeyPEM encodes a private key as PKCS#8 PEM.
func MarshalKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM parses the first CERTIFICATE block of PEM data.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	cs, err := ParseCertsPEM(b)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// ParseCertsPEM parses every CERTIFICATE block of PEM data.
func ParseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block in PEM data")
	}
	return out, nil
}

// ParseKeyPEM parses a PKCS#8, SEC 1 (EC) or PKCS#1 (RSA) private key.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no private key block in PEM data")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing private key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, k)
		}
		return s, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(eq); ok {
		return e.Equal(b)
	}
	return false
}
