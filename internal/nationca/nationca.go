// Package nationca keeps a certificate authority per nation under one
// directory, as a federation of allied nodes has them: it issues node and
// client certificates, writes them where a node's configuration points,
// and gives the trust and revocation maps a node is configured with. The
// demo, the topology builder and the tests share it; it knows nothing of
// the node.
package nationca

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"kizuna/internal/label"
	"kizuna/internal/pki"
)

// PKI is a certificate authority per nation under one directory.
type PKI struct {
	Dir string
	CAs map[string]*pki.CA
}

// New creates (or reopens) a CA for each nation under dir.
func New(dir string, nations ...string) (*PKI, error) {
	p := &PKI{Dir: dir, CAs: map[string]*pki.CA{}}
	for _, n := range nations {
		cadir := filepath.Join(dir, "ca-"+n)
		ca, err := pki.LoadCA(cadir)
		if err != nil {
			ca, err = pki.InitCA(cadir, n)
		}
		if err != nil {
			return nil, fmt.Errorf("CA for %s: %w", n, err)
		}
		p.CAs[n] = ca
	}
	return p, nil
}

// Trust returns the --trust map: every nation's CA.
func (p *PKI) Trust() map[string]string {
	m := map[string]string{}
	for n := range p.CAs {
		m[n] = filepath.Join(p.Dir, "ca-"+n, pki.CACertFile)
	}
	return m
}

// CRL returns the --crl map: every nation's revocation list.
func (p *PKI) CRL() map[string]string {
	m := map[string]string{}
	for n := range p.CAs {
		m[n] = filepath.Join(p.Dir, "ca-"+n, pki.CRLFile)
	}
	return m
}

// NodeCert issues a node certificate by the nation's CA for 127.0.0.1 and
// localhost and writes it; the zero Validity is the CA's default.
func (p *PKI) NodeCert(nation, nodeID string, v pki.Validity) (certFile, keyFile string, err error) {
	ca := p.CAs[nation]
	if ca == nil {
		return "", "", fmt.Errorf("no CA for %s", nation)
	}
	is, err := ca.IssueNode(nodeID, []string{"127.0.0.1", "localhost"}, v)
	if err != nil {
		return "", "", err
	}
	return p.Write(nodeID+"-"+nation, is)
}

// Write stores an issued certificate and its key as PEM files.
func (p *PKI) Write(name string, is *pki.Issued) (certFile, keyFile string, err error) {
	dir := filepath.Join(p.Dir, "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	kp, err := is.KeyPEM()
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, is.CertPEM(), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, kp, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// Client issues a client certificate for name of the nation at clearance
// cl, held in memory; the zero Validity is the CA's default.
func (p *PKI) Client(nation, name string, cl label.Classification, v pki.Validity) (tls.Certificate, *pki.Issued, error) {
	ca := p.CAs[nation]
	if ca == nil {
		return tls.Certificate{}, nil, fmt.Errorf("no CA for %s", nation)
	}
	is, err := ca.IssueClient(pki.Identity{Name: name, Nation: nation, Clearance: cl}, v)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("issuing %s: %w", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}, is, nil
}

// ClientTLS is a client configuration that verifies a node on loopback
// against the CA of nation and presents cert (none when nil).
func (p *PKI) ClientTLS(nation string, cert *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	if ca := p.CAs[nation]; ca != nil {
		pool.AddCert(ca.Cert)
	}
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}
