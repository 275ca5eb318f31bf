package webmap

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestIndexServed(t *testing.T) {
	srv := httptest.NewServer(http.FileServerFS(FS()))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", "banner-top"},
		{"/app.css", "text/css", "--s:"},
		{"/js/main.js", "javascript", "Stream"},
		{"/vendor/leaflet/leaflet.js", "javascript", "Leaflet"},
		{"/vendor/milsymbol/milsymbol.js", "javascript", "milsymbol"},
		{"/vendor/topojson-client/topojson-client.min.js", "javascript", "topojson"},
		{"/vendor/world-atlas/countries-50m.json", "json", `"countries"`},
		{"/vendor/world-atlas/countries-10m.json", "json", `"land"`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", tt.path, res.Status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, tt.contentType) {
				t.Errorf("GET %s: Content-Type %q, want %q", tt.path, ct, tt.contentType)
			}
			buf := make([]byte, 1<<20)
			n, _ := res.Body.Read(buf)
			for n < len(buf) {
				m, err := res.Body.Read(buf[n:])
				n += m
				if err != nil {
					break
				}
			}
			if !strings.Contains(string(buf[:n]), tt.contains) {
				t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
			}
		})
	}
}

// Every file the page references by a relative path must be embedded, or the
// map breaks on a closed network.
func TestReferencedFilesExist(t *testing.T) {
	fsys := FS()
	ref := regexp.MustCompile(`(?:src|href)="([^"#:]+)"|(?:from |URL\()'(\./[^']+)'|fetch\('([^'$` + "`" + `]+\.json)'\)|'(vendor/[^']+)'`)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "vendor/") {
			return err
		}
		if !strings.HasSuffix(p, ".html") && !strings.HasSuffix(p, ".js") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		dir := ""
		if i := strings.LastIndex(p, "/"); i >= 0 {
			dir = p[:i+1]
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			var target string
			switch {
			case m[1] != "":
				target = m[1]
			case m[2] != "":
				target = dir + strings.TrimPrefix(m[2], "./")
			case m[3] != "":
				target = m[3]
			case m[4] != "":
				target = m[4]
			}
			if _, err := fs.Stat(fsys, target); err != nil {
				t.Errorf("%s references %q, which is not embedded", p, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The page itself must not point at any outside host: no CDN, no fonts, no
// tiles. (Vendored libraries mention URLs in comments and attribution links
// that are never fetched; the browser tests prove nothing leaves loopback.)
func TestNoOutsideURLs(t *testing.T) {
	fsys := FS()
	outside := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|wss?://[a-z0-9]`)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "vendor/") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		for _, m := range outside.FindAllString(string(b), -1) {
			t.Errorf("%s names an outside address %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVendoredLicences(t *testing.T) {
	for _, lib := range []string{"leaflet", "milsymbol", "topojson-client", "world-atlas"} {
		if _, err := fs.Stat(FS(), "vendor/"+lib+"/LICENSE"); err != nil {
			t.Errorf("vendored %s has no licence: %v", lib, err)
		}
	}
	b, err := fs.ReadFile(FS(), "vendor/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range []string{"leaflet ", "milsymbol ", "topojson-client ", "world-atlas "} {
		if !strings.Contains(string(b), lib) {
			t.Errorf("vendor/VERSIONS does not pin %s", lib)
		}
	}
}
