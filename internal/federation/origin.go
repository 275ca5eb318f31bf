package federation

// Origin authentication. Every node signs what it originates with the key
// of its node certificate (issued by its national CA); every receiving
// node verifies the signature against the trusted CA of the nation the
// origin's certificate names before it accepts, stores or relays the
// event. A relay forwards the origin's signed record byte for byte and
// adds only the path, which nobody relies on for authority.
//
// Signing is per batch: the events a node originates in one flush are the
// leaves of a Merkle tree (RFC 9162 hashing, with 0x00 and 0x01 prefixes
// for leaves and nodes), and the node signs the root once. Each event
// carries its inclusion proof and the root signature, so that any subset
// of a batch (the label policy lets different events reach different
// peers) verifies on its own. A receiver verifies a root's signature once
// and caches it; every further event of the batch costs a few SHA-256
// blocks.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"kizuna/internal/pki"
)

// ErrUnverified is wrapped by every reason an event's origin cannot be
// proven.
var ErrUnverified = errors.New("origin not verified")

const (
	leafDomain = "kizuna-federation-event-v2"
	rootDomain = "kizuna-federation-batch-v2"
	// maxBatch bounds the events under one signature.
	maxBatch = 4096
	// rootCacheSize bounds the cache of verified batch roots.
	rootCacheSize = 1 << 14
)

// leafHash is the hash of one signed event: origin node, origin sequence,
// label and payload.
func leafHash(origin string, seq uint64, lbl, payload []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write([]byte(leafDomain))
	var tmp [binary.MaxVarintLen64 + maxName + binary.MaxVarintLen64]byte
	b := appendString(tmp[:0], origin)
	b = binary.AppendUvarint(b, seq)
	h.Write(b)
	h.Write(lbl)
	h.Write(payload)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// merkle returns the root of leaves and appends each leaf's inclusion
// proof (deepest sibling first) to proofs.
func merkle(leaves [][32]byte, proofs [][][32]byte) [32]byte {
	n := len(leaves)
	if n == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	l := merkle(leaves[:k], proofs[:k])
	r := merkle(leaves[k:], proofs[k:])
	for i := range proofs[:k] {
		proofs[i] = append(proofs[i], r)
	}
	for i := range proofs[k:] {
		proofs[k+i] = append(proofs[k+i], l)
	}
	return nodeHash(l, r)
}

// rootFromProof computes the root an inclusion proof leads to (RFC 9162,
// 2.1.3.2); ok is false when the proof does not fit the tree size.
func rootFromProof(leaf [32]byte, index, size uint64, proof [][32]byte) ([32]byte, bool) {
	if size == 0 || index >= size {
		return [32]byte{}, false
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return [32]byte{}, false
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return [32]byte{}, false
	}
	return r, true
}

// rootDigest is what the origin signs: the batch root, bound to the origin
// node and the batch size.
func rootDigest(origin string, size uint64, root [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(rootDomain))
	b := appendString(nil, origin)
	b = binary.AppendUvarint(b, size)
	h.Write(b)
	h.Write(root[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Signer signs the events one node originates.
type Signer struct {
	node string
	key  crypto.Signer
	der  []byte
	fp   [32]byte
}

// NewSigner makes the signer of node nodeID from its node certificate and
// key (the leaf of cert is the node certificate).
func NewSigner(nodeID string, cert tls.Certificate) (*Signer, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("federation: node certificate has no leaf")
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("federation: node key %T cannot sign", cert.PrivateKey)
	}
	der := cert.Certificate[0]
	return &Signer{node: nodeID, key: key, der: der, fp: sha256.Sum256(der)}, nil
}

// CertDER returns the node certificate the signatures verify with.
func (s *Signer) CertDER() []byte { return s.der }

// Fingerprint returns the SHA-256 of CertDER.
func (s *Signer) Fingerprint() [32]byte { return s.fp }

// Sign sets the Auth of each event (all of this signer's node) under one
// signature, at most maxBatch events per signature.
func (s *Signer) Sign(evs []*Event) error {
	for len(evs) > 0 {
		n := min(len(evs), maxBatch)
		if err := s.signBatch(evs[:n]); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

func (s *Signer) signBatch(evs []*Event) error {
	leaves := make([][32]byte, len(evs))
	var lbl []byte
	for i, e := range evs {
		if e.OriginNode != s.node {
			return fmt.Errorf("federation: signing an event of %q as %q", e.OriginNode, s.node)
		}
		lbl = appendLabel(lbl[:0], e.Label)
		leaves[i] = leafHash(e.OriginNode, e.OriginSeq, lbl, e.Payload)
	}
	proofs := make([][][32]byte, len(evs))
	root := merkle(leaves, proofs)
	size := uint64(len(evs))
	d := rootDigest(s.node, size, root)
	sig, err := signDigest(s.key, d)
	if err != nil {
		return fmt.Errorf("federation: signing batch: %w", err)
	}
	for i, e := range evs {
		e.Auth = Auth{CertFP: s.fp, Size: size, Index: uint64(i), Proof: proofs[i], Sig: sig}
	}
	return nil
}

func signDigest(k crypto.Signer, d [32]byte) ([]byte, error) {
	if _, ok := k.Public().(ed25519.PublicKey); ok {
		return k.Sign(rand.Reader, d[:], crypto.Hash(0))
	}
	return k.Sign(rand.Reader, d[:], crypto.SHA256)
}

func verifyDigest(pub crypto.PublicKey, d [32]byte, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, d[:], sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, d[:], sig)
	}
	return false
}

// originCert is an origin node's certificate as verified against the
// trust store.
type originCert struct {
	node pki.Node
	der  []byte
}

// verifier holds the origin certificates a node has verified and the
// batch roots whose signatures it has checked.
type verifier struct {
	trust *pki.TrustStore
	mu    sync.RWMutex
	certs map[[32]byte]*originCert
	// ders holds every certificate this node may have to send a peer:
	// its own and every verified origin's.
	ders  map[[32]byte][]byte
	roots map[[32]byte]struct{}
}

func newVerifier(trust *pki.TrustStore) *verifier {
	return &verifier{trust: trust, certs: map[[32]byte]*originCert{}, ders: map[[32]byte][]byte{}, roots: map[[32]byte]struct{}{}}
}

// addCert verifies a node certificate against the trust store (the CA of
// the nation its subject names, that CA's revocation list, the node OU)
// and remembers it. It reports whether the certificate was new.
func (v *verifier) addCert(der []byte) (*originCert, bool, error) {
	fp := sha256.Sum256(der)
	v.mu.RLock()
	oc := v.certs[fp]
	v.mu.RUnlock()
	if oc != nil {
		return oc, false, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fmt.Errorf("%w: certificate: %v", ErrUnverified, err)
	}
	n, err := v.trust.IdentifyNode([]*x509.Certificate{c}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, false, fmt.Errorf("%w: certificate of %q: %v", ErrUnverified, c.Subject.CommonName, err)
	}
	if !ValidNodeID(n.ID) {
		return nil, false, fmt.Errorf("%w: node id %q", ErrUnverified, n.ID)
	}
	oc = &originCert{node: n, der: der}
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.certs[fp]; old != nil {
		return old, false, nil
	}
	v.certs[fp] = oc
	v.ders[fp] = der
	return oc, true, nil
}

// addOwn remembers the node's own certificate for sending.
func (v *verifier) addOwn(der []byte) {
	v.mu.Lock()
	v.ders[sha256.Sum256(der)] = der
	v.mu.Unlock()
}

func (v *verifier) der(fp [32]byte) []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.ders[fp]
}

// verify proves an event's origin: the certificate its auth names is
// known and verified, still valid and not revoked, names the origin node
// and the label's originator nation, and the event is in a batch whose
// root that certificate's key signed.
func (v *verifier) verify(e *Event) error {
	v.mu.RLock()
	oc := v.certs[e.Auth.CertFP]
	v.mu.RUnlock()
	switch {
	case oc == nil:
		return fmt.Errorf("%w: no verified certificate for origin %s", ErrUnverified, e.OriginNode)
	case oc.node.ID != e.OriginNode:
		return fmt.Errorf("%w: event of origin %s signed by node %s", ErrUnverified, e.OriginNode, oc.node.ID)
	case oc.node.Nation != e.Label.Originator:
		return fmt.Errorf("%w: node %s of %s originated an event for nation %s", ErrUnverified, oc.node.ID, oc.node.Nation, e.Label.Originator)
	case time.Now().After(oc.node.Cert.NotAfter):
		return fmt.Errorf("%w: certificate of %s expired", ErrUnverified, oc.node.ID)
	case v.trust.Revoked(oc.node.Cert):
		return fmt.Errorf("%w: certificate of %s revoked", ErrUnverified, oc.node.ID)
	case e.Auth.Size == 0 || e.Auth.Size > maxBatch || len(e.Auth.Sig) == 0:
		return fmt.Errorf("%w: no signature", ErrUnverified)
	}
	var lb [512]byte
	leaf := leafHash(e.OriginNode, e.OriginSeq, appendLabel(lb[:0], e.Label), e.Payload)
	root, ok := rootFromProof(leaf, e.Auth.Index, e.Auth.Size, e.Auth.Proof)
	if !ok {
		return fmt.Errorf("%w: inclusion proof does not fit the batch", ErrUnverified)
	}
	d := rootDigest(e.OriginNode, e.Auth.Size, root)
	ck := cacheKey(e.Auth.CertFP, d, e.Auth.Sig)
	v.mu.RLock()
	_, done := v.roots[ck]
	v.mu.RUnlock()
	if done {
		return nil
	}
	if !verifyDigest(oc.node.Cert.PublicKey, d, e.Auth.Sig) {
		return fmt.Errorf("%w: bad signature of %s", ErrUnverified, e.OriginNode)
	}
	v.mu.Lock()
	if len(v.roots) >= rootCacheSize {
		clear(v.roots) // cheap; the cache only saves work
	}
	v.roots[ck] = struct{}{}
	v.mu.Unlock()
	return nil
}

// cacheKey names one verified (certificate, signed digest, signature).
func cacheKey(fp, d [32]byte, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(fp[:])
	h.Write(d[:])
	h.Write(sig)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
