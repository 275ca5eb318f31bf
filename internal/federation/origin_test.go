package federation

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/pki"
)

// TestMerkleProofs: for every batch size up to 70 and every leaf, the
// proof leads to the root; a proof at another index or for another leaf
// does not. (A proof may fit a larger tree: the signed digest binds the
// size, see TestOriginVerify.)
func TestMerkleProofs(t *testing.T) {
	for n := 1; n <= 70; n++ {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i] = sha256.Sum256([]byte(fmt.Sprint(n, i)))
		}
		proofs := make([][][32]byte, n)
		root := merkle(leaves, proofs)
		for i := range leaves {
			got, ok := rootFromProof(leaves[i], uint64(i), uint64(n), proofs[i])
			if !ok || got != root {
				t.Fatalf("size %d leaf %d: proof does not lead to the root", n, i)
			}
			if n > 1 {
				if got, ok := rootFromProof(leaves[i], uint64((i+1)%n), uint64(n), proofs[i]); ok && got == root {
					t.Fatalf("size %d leaf %d: proof accepted at another index", n, i)
				}
				if got, ok := rootFromProof(leaves[(i+1)%n], uint64(i), uint64(n), proofs[i]); ok && got == root {
					t.Fatalf("size %d leaf %d: proof accepted for another leaf", n, i)
				}
			}
		}
	}
}

type originFixture struct {
	v   *verifier
	cas map[string]*pki.CA
	usa *Signer // usa-hub of USA
	jpn *Signer // jpn-node of JPN
}

func newOriginFixture(t testing.TB) *originFixture {
	t.Helper()
	dir := t.TempDir()
	fx := &originFixture{cas: map[string]*pki.CA{}}
	trust, crl := map[string]string{}, map[string]string{}
	for _, n := range []string{"USA", "JPN"} {
		ca, err := pki.InitCA(filepath.Join(dir, n), n)
		if err != nil {
			t.Fatal(err)
		}
		fx.cas[n] = ca
		trust[n] = filepath.Join(dir, n, pki.CACertFile)
		crl[n] = filepath.Join(dir, n, pki.CRLFile)
	}
	ts, err := pki.NewTrustStore(pki.TrustConfig{Trust: trust, CRL: crl}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.v = newVerifier(ts)
	fx.usa = fx.signer(t, "USA", "usa-hub")
	fx.jpn = fx.signer(t, "JPN", "jpn-node")
	for _, s := range []*Signer{fx.usa, fx.jpn} {
		if _, _, err := fx.v.addCert(s.CertDER()); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx *originFixture) signer(t testing.TB, nation, id string) *Signer {
	t.Helper()
	is, err := fx.cas[nation].IssueNode(id, []string{"127.0.0.1"}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(id, tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jpnEvents(n int) []*Event {
	evs := make([]*Event, n)
	for i := range evs {
		evs[i] = &Event{OriginNode: "jpn-node", OriginSeq: uint64(100 + i), Path: []string{"jpn-node"},
			Label:   label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "JPN"},
			Payload: []byte(fmt.Sprintf(`<event version="2.0" uid="u%d" type="a-f-G"/>`, i))}
	}
	return evs
}

// roundTrip encodes and decodes an event as a link would.
func roundTrip(t testing.TB, e *Event) *Event {
	t.Helper()
	d, err := DecodeEventBody(EncodeEventBody(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOriginVerify: a batch signed by its origin verifies event by event
// after the wire; any change to what the signature covers, a signature by
// another node, a label of another nation, or an unknown certificate is
// refused with ErrUnverified.
func TestOriginVerify(t *testing.T) {
	fx := newOriginFixture(t)
	evs := jpnEvents(5)
	if err := fx.jpn.Sign(evs); err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if err := fx.v.verify(roundTrip(t, e)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	// USA signs an event claiming to come from jpn-node.
	usaAsJPN := jpnEvents(1)
	fx.usa.node = "jpn-node" // the signer lies about its node id
	if err := fx.usa.Sign(usaAsJPN); err != nil {
		t.Fatal(err)
	}
	fx.usa.node = "usa-hub"
	// usa-hub signs for nation JPN under its own name.
	usaForJPN := jpnEvents(1)
	usaForJPN[0].OriginNode, usaForJPN[0].Path = "usa-hub", []string{"usa-hub"}
	if err := fx.usa.Sign(usaForJPN); err != nil {
		t.Fatal(err)
	}
	unknown := fx.signer(t, "JPN", "jpn-node") // valid, but never presented
	unknownEv := jpnEvents(1)
	if err := unknown.Sign(unknownEv); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(e *Event)) *Event {
		e := roundTrip(t, evs[2])
		f(e)
		return roundTrip(t, e)
	}
	tests := []struct {
		name string
		e    *Event
	}{
		{"label widened", mod(func(e *Event) { e.Label.ReleasableTo = []string{"USA", "KOR"} })},
		{"label lowered", mod(func(e *Event) { e.Label.Classification = label.Unclassified })},
		{"caveat dropped", mod(func(e *Event) { e.Label.Caveat = "X" })},
		{"payload changed", mod(func(e *Event) { e.Payload = []byte(`<event version="2.0" uid="u2" type="a-h-G"/>`) })},
		{"sequence replayed under a new number", mod(func(e *Event) { e.OriginSeq += 1000 })},
		{"other origin node", mod(func(e *Event) { e.OriginNode, e.Path = "jpn-node2", []string{"jpn-node2"} })},
		{"other index", mod(func(e *Event) { e.Auth.Index = 3 })},
		{"other size", mod(func(e *Event) { e.Auth.Size = 6 })},
		{"signature cut", mod(func(e *Event) { e.Auth.Sig = e.Auth.Sig[:len(e.Auth.Sig)-1] })},
		{"no signature", mod(func(e *Event) { e.Auth = Auth{CertFP: e.Auth.CertFP, Size: 1} })},
		{"signed by another node", roundTrip(t, usaAsJPN[0])},
		{"node speaks for another nation", roundTrip(t, usaForJPN[0])},
		{"certificate never presented", roundTrip(t, unknownEv[0])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := fx.v.verify(tt.e); !errors.Is(err, ErrUnverified) {
				t.Fatalf("verify = %v, want ErrUnverified", err)
			}
		})
	}
	// Presented, the unknown certificate makes its event verify.
	if _, _, err := fx.v.addCert(unknown.CertDER()); err != nil {
		t.Fatal(err)
	}
	if err := fx.v.verify(roundTrip(t, unknownEv[0])); err != nil {
		t.Fatalf("after the certificate: %v", err)
	}
}

// TestOriginCertRefused: a certificate of an untrusted CA, or a node
// certificate whose subject names another nation than its CA, is refused.
func TestOriginCertRefused(t *testing.T) {
	fx := newOriginFixture(t)
	dir := t.TempDir()
	kor, err := pki.InitCA(filepath.Join(dir, "KOR"), "KOR")
	if err != nil {
		t.Fatal(err)
	}
	is, err := kor.IssueNode("kor-node", nil, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"untrusted CA": is.Cert.Raw, "not DER": {0x30, 0x03, 1, 2, 3}} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := fx.v.addCert(der); !errors.Is(err, ErrUnverified) {
				t.Fatalf("addCert = %v, want ErrUnverified", err)
			}
		})
	}
}

// BenchmarkOriginSign measures signing per event in batches of 256 (the
// origin's cost).
func BenchmarkOriginSign(b *testing.B) {
	fx := newOriginFixture(b)
	evs := jpnEvents(256)
	b.ResetTimer()
	for b.Loop() {
		if err := fx.jpn.Sign(evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// BenchmarkOriginVerify measures verification per event of batches of 256
// (each batch's signature verified once, then its proofs).
func BenchmarkOriginVerify(b *testing.B) {
	fx := newOriginFixture(b)
	const batches = 8
	var all []*Event
	for range batches {
		evs := jpnEvents(256)
		if err := fx.jpn.Sign(evs); err != nil {
			b.Fatal(err)
		}
		for _, e := range evs {
			all = append(all, roundTrip(b, e))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		clear(fx.v.roots)
		for _, e := range all {
			if err := fx.v.verify(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/event")
}

// TestOriginCertsPersist: an origin certificate verified once is stored,
// and after a restart it is back (verified again) so that queued relayed
// events can be forwarded with it; one that no longer verifies is left
// out.
func TestOriginCertsPersist(t *testing.T) {
	fx := newOriginFixture(t)
	db, err := openDB(filepath.Join(t.TempDir(), DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := t.TempDir()
	kor, err := pki.InitCA(filepath.Join(dir, "KOR"), "KOR")
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := kor.IssueNode("kor-node", nil, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	f := &Federation{db: db, verifier: fx.v, log: slog.New(slog.DiscardHandler)}
	f.storeCert(fx.jpn.CertDER())
	f.storeCert(untrusted.Cert.Raw)

	f.verifier = newVerifier(fx.v.trust) // the restart
	if err := f.loadCerts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.verifier.der(fx.jpn.Fingerprint()) == nil {
		t.Error("jpn-node's certificate not restored")
	}
	if f.verifier.der(sha256.Sum256(untrusted.Cert.Raw)) != nil {
		t.Error("a certificate of an untrusted CA restored")
	}
	evs := jpnEvents(1)
	if err := fx.jpn.Sign(evs); err != nil {
		t.Fatal(err)
	}
	if err := f.verifier.verify(roundTrip(t, evs[0])); err != nil {
		t.Errorf("after the restart: %v", err)
	}
}

// TestOriginRevoked: once the origin's certificate is on its CA's
// revocation list (re-read), its events no longer verify, even from a
// batch verified before.
func TestOriginRevoked(t *testing.T) {
	fx := newOriginFixture(t)
	evs := jpnEvents(2)
	if err := fx.jpn.Sign(evs); err != nil {
		t.Fatal(err)
	}
	if err := fx.v.verify(roundTrip(t, evs[0])); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(fx.jpn.CertDER())
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.cas["JPN"].Revoke(cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	if err := fx.v.trust.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := fx.v.verify(roundTrip(t, evs[1])); !errors.Is(err, ErrUnverified) {
		t.Fatalf("verify after revocation = %v, want ErrUnverified", err)
	}
}
