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

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pgstore"
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

// TestSustainmentVerifyCluster verifies a cluster's ledger in its shared
// PostgreSQL.
func TestSustainmentVerifyCluster(t *testing.T) {
	url := clustertest.Postgres(t)
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := stdlib.OpenDBFromPool(st.Pool())
	defer db.Close()
	svc, err := sustain.New(sustain.Config{Shared: db, Nation: "USA", NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	p := label.Principal{Nation: "USA", Clearance: label.Secret}
	l := label.Label{Classification: label.Secret, Originator: "USA"}
	if _, err := svc.PutLocation(ctx, p, sustain.Location{ID: "depot", Kind: sustain.Depot, Label: l}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Record(ctx, p, sustain.Movement{Item: "SM-6", From: sustain.Source, To: "depot", Quantity: 3, Reason: sustain.Production, Label: l}); err != nil {
		t.Fatal(err)
	}
	svc.Stop(ctx)
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"sustainment", "verify", "--store", url}, Env{Stdout: &out, Stderr: &errb}); code != 0 || !strings.Contains(out.String(), "intact") {
		t.Fatalf("verify --store: %d %s%s", code, out.String(), errb.String())
	}
}
