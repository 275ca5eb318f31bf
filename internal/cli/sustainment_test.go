package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/sustain"
)

// TestSustainmentCLI imports a file through the REST API, prints reports
// and verifies the ledger offline.
func TestSustainmentCLI(t *testing.T) {
	dir := t.TempDir()
	svc, err := sustain.New(sustain.Config{DBPath: filepath.Join(dir, "sustain.db"), Nation: "USA", NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start(context.Background())
	p := label.Principal{Nation: "USA", Clearance: label.Secret}
	srv := httptest.NewServer(svc.Handler(func(*http.Request) label.Principal { return p }))
	defer srv.Close()
	file := filepath.Join(dir, "import.json")
	os.WriteFile(file, []byte(`{
  "items": [{"name": "Mk-48"}],
  "locations": [{"id": "yokosuka", "kind": "depot", "label": {"classification": "SECRET", "releasableTo": ["JPN"]}}],
  "units": [{"id": "subron15", "name": "SUBRON 15", "location": "yokosuka", "required": {"Mk-48": 20}}],
  "movements": [{"item": "Mk-48", "from": "PRODUCTION", "to": "yokosuka", "quantity": 24, "reason": "production-acceptance", "label": {"classification": "SECRET", "releasableTo": ["JPN"]}}]
}`), 0o600)
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb})
		return code, out.String() + errb.String()
	}
	if code, out := run("sustainment", "import", "--url", srv.URL, file); code != 0 || !strings.Contains(out, "1 movements") {
		t.Fatalf("import: %d %s", code, out)
	}
	if code, out := run("sustainment", "report", "stocks", "--url", srv.URL); code != 0 || !strings.Contains(out, "Mk-48") || !strings.Contains(out, "24") {
		t.Fatalf("report: %d %s", code, out)
	}
	if code, out := run("sustainment", "report", "readiness", "--url", srv.URL, "--csv"); code != 0 || !strings.Contains(out, "subron15") {
		t.Fatalf("readiness csv: %d %s", code, out)
	}
	if code, out := run("sustainment", "report", "bogus", "--url", srv.URL); code != 2 {
		t.Fatalf("bogus report: %d %s", code, out)
	}
	svc.Stop(context.Background())
	if code, out := run("sustainment", "verify", "--data", dir); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify: %d %s", code, out)
	}
}
