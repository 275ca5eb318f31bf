package pki

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Data package formats, by client.
const (
	// FormatATAK is the ATAK data package WritePackage makes (MANIFEST/
	// manifest.xml, certs/). ATAK 4 and 5 import it.
	FormatATAK = "atak"
	// FormatITAK is the flat zip iTAK imports: config.pref and the .p12
	// files at the root, no MANIFEST folder, preference paths relative to
	// the root.
	FormatITAK = "itak"
	// FormatWinTAK wraps the ATAK package in an outer mission package
	// (its own MANIFEST listing the inner zip), as WinTAK imports it.
	FormatWinTAK = "wintak"
)

// Formats lists the package formats.
var Formats = []string{FormatATAK, FormatITAK, FormatWinTAK}

// PackageBytesFor builds a connection or enrollment package in one of the
// Formats.
func PackageBytesFor(format string, cfg PackageConfig) ([]byte, error) {
	switch format {
	case "", FormatATAK:
		return PackageBytes(cfg)
	case FormatITAK:
		inner, err := PackageBytes(cfg)
		if err != nil {
			return nil, err
		}
		return flatten(inner)
	case FormatWinTAK:
		if cfg.UID == "" {
			cfg.UID = newUUID()
		}
		inner, err := PackageBytes(cfg)
		if err != nil {
			return nil, err
		}
		name := cfg.Name
		if name == "" {
			name = strings.Split(cfg.Server, ":")[0]
		}
		return wrap(inner, safeFileName(name))
	}
	return nil, fmt.Errorf("%w: format %q (want atak, itak or wintak)", ErrPackage, format)
}

// flatten turns an ATAK package into iTAK's flat layout.
func flatten(atak []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(atak), int64(len(atak)))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	now := time.Now()
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "MANIFEST/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		name := path.Base(f.Name)
		if strings.HasSuffix(name, ".pref") {
			name = "config.pref"
			// ATAK imports certificates into cert/; iTAK reads them from
			// the package root.
			data = bytes.ReplaceAll(data, []byte(">cert/"), []byte(">"))
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// wrap puts an ATAK package inside an outer mission package for WinTAK.
func wrap(inner []byte, name string) ([]byte, error) {
	innerName := name + ".zip"
	m := manifest{Version: "2", Params: []param{
		{"uid", newUUID()}, {"name", name}, {"onReceiveImport", "true"}, {"onReceiveDelete", "true"},
	}, Content: []entry{{ZipEntry: innerName}}}
	mb, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	now := time.Now()
	for _, f := range []struct {
		name string
		data []byte
	}{{"MANIFEST/manifest.xml", append([]byte(xml.Header), append(mb, '\n')...)}, {innerName, inner}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
