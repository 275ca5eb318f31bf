package pki

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"kizuna/internal/label"
)

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return files
}

func TestClientPackageFormats(t *testing.T) {
	ca := newCA(t, "JPN")
	iss, err := ca.IssueClient(Identity{Name: "VIPER1", Nation: "JPN", Clearance: label.Secret}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := PackageConfig{Server: "tak.jpn.example:8089", CA: ca.Cert, Client: iss, Password: "s3cret", Name: "JJOC"}

	t.Run("itak", func(t *testing.T) {
		b, err := PackageBytesFor(FormatITAK, cfg)
		if err != nil {
			t.Fatal(err)
		}
		files := unzip(t, b)
		if len(files) != 3 || files["config.pref"] == nil || files["VIPER1.p12"] == nil || files["truststore-JPN.p12"] == nil {
			t.Fatalf("iTAK layout: %v", keys(files))
		}
		pref := files["config.pref"]
		for _, s := range []string{"tak.jpn.example:8089:ssl", ">VIPER1.p12<", ">truststore-JPN.p12<"} {
			if !bytes.Contains(pref, []byte(s)) {
				t.Errorf("config.pref lacks %s:\n%s", s, pref)
			}
		}
		if bytes.Contains(pref, []byte("cert/")) {
			t.Errorf("config.pref points into cert/:\n%s", pref)
		}
		if _, cert, _, err := pkcs12.DecodeChain(files["VIPER1.p12"], "s3cret"); err != nil || cert.Subject.CommonName != "VIPER1" {
			t.Errorf("client p12: %v", err)
		}
	})
	t.Run("wintak", func(t *testing.T) {
		b, err := PackageBytesFor(FormatWinTAK, cfg)
		if err != nil {
			t.Fatal(err)
		}
		outer := unzip(t, b)
		var m manifest
		if err := xml.Unmarshal(outer["MANIFEST/manifest.xml"], &m); err != nil || len(m.Content) != 1 || m.Content[0].ZipEntry != "JJOC.zip" {
			t.Fatalf("outer manifest %+v %v (%v)", m, err, keys(outer))
		}
		inner := unzip(t, outer["JJOC.zip"])
		if inner["MANIFEST/manifest.xml"] == nil || inner["certs/VIPER1.p12"] == nil {
			t.Errorf("inner package %v", keys(inner))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := PackageBytesFor("tak-tracker", cfg); err == nil {
			t.Error("unknown format accepted")
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
