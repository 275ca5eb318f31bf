package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"kizuna/internal/label"
)

// CRL and PEM files are read from operators and allied CAs: parsing them
// must never panic, and a parsed CRL from another CA must never verify.
func FuzzParseCRL(f *testing.F) {
	ca := newCA(f, "JPN")
	b, _ := os.ReadFile(filepath.Join(ca.Dir, CRLFile))
	f.Add(b)
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	other := newCA(f, "USA")
	f.Fuzz(func(t *testing.T, data []byte) {
		crl, err := ParseCRL(data)
		if err != nil {
			return
		}
		if crl.CheckSignatureFrom(other.Cert) == nil {
			t.Fatal("a JPN CRL verified against the USA CA")
		}
	})
}

func FuzzParsePEM(f *testing.F) {
	ca := newCA(f, "JPN")
	kp, _ := MarshalKeyPEM(ca.Signer())
	f.Add(ca.CertPEM())
	f.Add(kp)
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseCertsPEM(data)
		ParseKeyPEM(data)
	})
}

// BenchmarkIdentify is the per-connection cost of turning a presented
// client certificate into a principal (two trusted nations, CRL check).
func BenchmarkIdentify(b *testing.B) {
	jpn, usa := newCA(b, "JPN"), newCA(b, "USA")
	ts, err := NewTrustStore(TrustConfig{
		Trust: map[string]string{"JPN": filepath.Join(jpn.Dir, CACertFile), "USA": filepath.Join(usa.Dir, CACertFile)},
		CRL:   map[string]string{"JPN": filepath.Join(jpn.Dir, CRLFile), "USA": filepath.Join(usa.Dir, CRLFile)},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := client(b, usa, Identity{Name: "EAGLE", Nation: "USA", Clearance: label.Secret}, Validity{})
	chain := []*x509.Certificate{c.Leaf}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Identify(chain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake is a full mutual-TLS handshake over loopback with the
// node's server configuration (TLS 1.3, ECDSA P-256 client and server).
func BenchmarkHandshake(b *testing.B) {
	jpn := newCA(b, "JPN")
	ts, err := NewTrustStore(TrustConfig{Trust: map[string]string{"JPN": filepath.Join(jpn.Dir, CACertFile)}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	node, _ := jpn.IssueNode("jpn-1", []string{"127.0.0.1"}, Validity{})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ts.ServerTLS(tlsCert(b, node)))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cc := client(b, jpn, Identity{Name: "V", Nation: "JPN", Clearance: label.Secret}, Validity{})
	pool := x509.NewCertPool()
	pool.AddCert(jpn.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{*cc}, ClientSessionCache: nil}
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
