package pki

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// DefaultPassword protects generated PKCS#12 files unless another is given:
// the password TAK tooling uses by convention.
const DefaultPassword = "atakatak"

// p12Encoder is the PKCS#12 encoding used for every bundle handed to TAK
// clients: 3DES-encrypted bags with a SHA-1 MAC (go-pkcs12's Legacy, the
// same parameters as OpenSSL's -descert). The modern encoding (PBES2 with
// AES-256 and a SHA-256 MAC) cannot be read by Android 9 and earlier, and
// ATAK builds bundling an older BouncyCastle reject SHA-256 MACs ("error
// constructing MAC"), so clients could not import it. 3DES bags are also
// readable by OpenSSL 3 without its legacy provider, unlike RC2. The bundle
// is only as strong as its password; protect the file in transit.
var p12Encoder = pkcs12.Legacy

// ErrPackage is returned for an invalid data package request.
var ErrPackage = errors.New("invalid data package request")

// ClientP12 bundles a client certificate, its key and the CA chain into a
// password-protected PKCS#12 file for ATAK, iTAK and WinTAK.
func ClientP12(iss *Issued, chain []*x509.Certificate, password string) ([]byte, error) {
	if iss == nil || iss.Cert == nil || iss.Key == nil {
		return nil, fmt.Errorf("%w: client certificate and key needed", ErrPackage)
	}
	b, err := p12Encoder.Encode(iss.Key, iss.Cert, chain, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12: %w", err)
	}
	return b, nil
}

// TrustStoreP12 bundles CA certificates into a password-protected PKCS#12
// trust store (certificates only), as TAK clients import it.
func TrustStoreP12(cas []*x509.Certificate, password string) ([]byte, error) {
	b, err := p12Encoder.EncodeTrustStore(cas, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 trust store: %w", err)
	}
	return b, nil
}

// PackageConfig describes an ATAK/iTAK connection data package.
type PackageConfig struct {
	// Name is the connection's description shown in the client and the
	// package name (default: the server host).
	Name string
	// Server is HOST:PORT of the TLS CoT listener (port default 8089).
	Server string
	// CA is the CA certificate that signed the server's certificate; it
	// goes into the trust store.
	CA *x509.Certificate
	// Client is the client certificate and key. Nil makes an enrollment
	// package: the client asks for its certificate on first connect.
	Client *Issued
	// Password protects both .p12 files (default "atakatak").
	Password string
	// UID identifies the package (default: a random UUID).
	UID string
}

type manifest struct {
	XMLName xml.Name `xml:"MissionPackageManifest"`
	Version string   `xml:"version,attr"`
	Params  []param  `xml:"Configuration>Parameter"`
	Content []entry  `xml:"Contents>Content"`
}

type param struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type entry struct {
	Ignore   bool   `xml:"ignore,attr"`
	ZipEntry string `xml:"zipEntry,attr"`
}

type prefs struct {
	XMLName xml.Name `xml:"preferences"`
	Prefs   []pref   `xml:"preference"`
}

type pref struct {
	Version string      `xml:"version,attr"`
	Name    string      `xml:"name,attr"`
	Entries []prefEntry `xml:"entry"`
}

type prefEntry struct {
	Key   string `xml:"key,attr"`
	Class string `xml:"class,attr"`
	Value string `xml:",chardata"`
}

func strEntry(k, v string) prefEntry {
	return prefEntry{Key: k, Class: "class java.lang.String", Value: v}
}
func boolEntry(k string, v bool) prefEntry {
	return prefEntry{Key: k, Class: "class java.lang.Boolean", Value: strconv.FormatBool(v)}
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeFileName(s string) string {
	s = strings.Trim(unsafeFileChars.ReplaceAllString(s, "_"), "._")
	if s == "" {
		return "client"
	}
	return s
}

// WritePackage writes an ATAK/iTAK connection data package (a zip) to w:
//
//	MANIFEST/manifest.xml     MissionPackageManifest version 2 listing the files
//	certs/<name>.pref         cot_streams (HOST:PORT:ssl) and the certificate locations
//	certs/truststore-<NATION>.p12   the CA certificate
//	certs/<callsign>.p12      the client certificate and key (absent for enrollment)
//
// ATAK imports the .p12 files into its cert/ directory, which is where the
// preferences point.
func WritePackage(w io.Writer, cfg PackageConfig) error {
	connect, err := cfg.check()
	if err != nil {
		return err
	}
	nation := "CA"
	if len(cfg.CA.Subject.Organization) == 1 {
		nation = safeFileName(cfg.CA.Subject.Organization[0])
	}
	trustName := "truststore-" + nation + ".p12"
	trust, err := TrustStoreP12([]*x509.Certificate{cfg.CA}, cfg.Password)
	if err != nil {
		return err
	}
	files := []packageFile{{"certs/" + trustName, trust}}

	streams := pref{Version: "1", Name: "cot_streams", Entries: []prefEntry{
		{Key: "count", Class: "class java.lang.Integer", Value: "1"},
		strEntry("description0", cfg.Name),
		boolEntry("enabled0", true),
		strEntry("connectString0", connect+":ssl"),
	}}
	app := pref{Version: "1", Name: "com.atakmap.app_preferences", Entries: []prefEntry{
		boolEntry("displayServerConnectionWidget", true),
	}}
	if cfg.Client != nil {
		app.Entries = append(app.Entries,
			strEntry("caLocation", "cert/"+trustName),
			strEntry("caPassword", cfg.Password),
		)
		callsign := cfg.Client.Cert.Subject.CommonName
		clientName := safeFileName(callsign) + ".p12"
		p12, err := ClientP12(cfg.Client, []*x509.Certificate{cfg.CA}, cfg.Password)
		if err != nil {
			return err
		}
		files = append(files, packageFile{"certs/" + clientName, p12})
		app.Entries = append(app.Entries,
			strEntry("certificateLocation", "cert/"+clientName),
			strEntry("clientPassword", cfg.Password),
			strEntry("locationCallsign", callsign),
		)
	} else {
		// Enrollment: the client asks the enrollment port (8446) for a
		// certificate with the user's name and password on first connect.
		// The trust store is then given per connection.
		streams.Entries = append(streams.Entries,
			strEntry("caLocation0", "cert/"+trustName),
			strEntry("caPassword0", cfg.Password),
			boolEntry("enrollForCertificateWithTrust0", true),
			boolEntry("useAuth0", true),
			strEntry("cacheCreds0", "Cache credentials"),
		)
	}
	p := prefs{Prefs: []pref{streams, app}}
	prefBytes, err := xml.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	prefName := "certs/" + safeFileName(cfg.Name) + ".pref"
	files = append([]packageFile{{prefName, append([]byte("<?xml version='1.0' standalone='yes'?>\n"), append(prefBytes, '\n')...)}}, files...)
	return writeZip(w, cfg, files)
}

// packageFile is one file of a data package.
type packageFile struct {
	name string
	data []byte
}

// check validates cfg, fills in its defaults and returns the connect
// string (HOST:PORT) of the server.
func (cfg *PackageConfig) check() (string, error) {
	if cfg.CA == nil {
		return "", fmt.Errorf("%w: CA certificate needed", ErrPackage)
	}
	host, port, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		host, port = strings.Trim(cfg.Server, "[]"), "8089"
	}
	if host == "" || strings.ContainsAny(host, " :/<>&\"'") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("%w: server %q", ErrPackage, cfg.Server)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%w: server port %q", ErrPackage, port)
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.Name == "" {
		cfg.Name = host
	}
	if cfg.UID == "" {
		cfg.UID = newUUID()
	}
	if strings.Contains(host, ":") {
		return host + ":" + port, nil // ATAK splits on the last two colons
	}
	return net.JoinHostPort(host, port), nil
}

// writeZip writes the manifest listing files, then the files.
func writeZip(w io.Writer, cfg PackageConfig, files []packageFile) error {
	m := manifest{Version: "2", Params: []param{
		{"uid", cfg.UID}, {"name", cfg.Name}, {"onReceiveImport", "true"}, {"onReceiveDelete", "true"},
	}}
	for _, f := range files {
		m.Content = append(m.Content, entry{ZipEntry: f.name})
	}
	mb, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	now := time.Now()
	add := func(name string, data []byte) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	if err := add("MANIFEST/manifest.xml", append([]byte(xml.Header), append(mb, '\n')...)); err != nil {
		return fmt.Errorf("writing package: %w", err)
	}
	for _, f := range files {
		if err := add(f.name, f.data); err != nil {
			return fmt.Errorf("writing package: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing package: %w", err)
	}
	return nil
}

// PackageBytes is WritePackage into memory.
func PackageBytes(cfg PackageConfig) ([]byte, error) {
	var b bytes.Buffer
	if err := WritePackage(&b, cfg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
