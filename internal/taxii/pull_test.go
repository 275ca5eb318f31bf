package taxii

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kizuna/internal/label"
)

// principalTransport sends every request as one test principal.
type principalTransport struct {
	p    label.Principal
	base http.RoundTripper
}

func (t principalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Principal", t.p.Nation+":"+t.p.Clearance.String())
	return t.base.RoundTrip(r)
}

// TestPull copies a source collection into a destination in pages and
// chunks, under the configured label, and resumes from its state file.
func TestPull(t *testing.T) {
	ctx := context.Background()
	src, srcHS := newTestServer(t)
	_, dstHS := newTestServer(t)
	poster := label.Principal{Nation: "USA", Clearance: label.Secret}
	reader := label.Principal{Nation: "JPN", Clearance: label.Secret}
	add := func(start, n int) {
		t.Helper()
		st, err := src.Add(ctx, "c1", poster, benchObjects(start, n), nil)
		if err != nil || st.FailureCount != 0 || st.SuccessCount != n {
			t.Fatalf("seeding the source: %v %+v", err, st)
		}
	}
	add(0, 7)
	lbl := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}}
	cfg := PullConfig{
		From:       srcHS.URL + "/taxii2/kizuna/collections/c1/",
		To:         dstHS.URL + "/taxii2/kizuna/collections/c1",
		FromClient: &http.Client{Transport: principalTransport{poster, srcHS.Client().Transport}},
		ToClient:   &http.Client{Transport: principalTransport{poster, dstHS.Client().Transport}},
		Label:      lbl,
		StateFile:  filepath.Join(t.TempDir(), "state"),
		Limit:      3,
		MaxPost:    1200, // two or three objects per POST
	}

	tests := []struct {
		name        string
		add         int
		wantPages   int
		wantFetched int // with the source's own marking definition, which is not copied
		wantNew     int
	}{
		{"first", 0, 3, 8, 7},       // pages of 3, 3, 2
		{"nothing new", 0, 1, 0, 0}, // one empty page
		{"two more", 2, 1, 2, 2},
	}
	seeded := 7
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.add > 0 {
				add(seeded, tc.add)
				seeded += tc.add
			}
			res, err := Pull(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Pages != tc.wantPages || res.Fetched != tc.wantFetched || res.Stored != tc.wantNew || res.Refused != 0 || len(res.Failures) != 0 {
				t.Fatalf("got %+v, want %d pages, %d fetched, %d stored", res, tc.wantPages, tc.wantFetched, tc.wantNew)
			}
			state, err := os.ReadFile(cfg.StateFile)
			if tc.wantNew > 0 && (err != nil || strings.TrimSpace(string(state)) != res.AddedAfter || res.AddedAfter == "") {
				t.Fatalf("state file %q (%v), result says %q", state, err, res.AddedAfter)
			}
		})
	}

	// The source's objects carry the poster's default label, which JPN
	// may not read; the destination holds every indicator once under the
	// pull's label, releasable to JPN.
	indicators := func(hs *httptest.Server) map[string]bool {
		t.Helper()
		code, body := get(t, hs, reader, "/taxii2/kizuna/collections/c1/objects/?limit=100")
		if code != http.StatusOK {
			t.Fatalf("listing: %d %s", code, body)
		}
		var env struct {
			Objects []struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, o := range env.Objects {
			if o.Type == "indicator" {
				seen[o.ID] = true
			}
		}
		return seen
	}
	if n := len(indicators(srcHS)); n != 0 {
		t.Fatalf("the source shows %d indicators to %s, want none", n, reader)
	}
	if n := len(indicators(dstHS)); n != seeded {
		t.Fatalf("the destination shows %d indicators to %s, want %d", n, reader, seeded)
	}

	t.Run("no classification", func(t *testing.T) {
		bad := cfg
		bad.Label = label.Label{}
		if _, err := Pull(ctx, bad); err == nil {
			t.Fatal("a pull without a label classification was accepted")
		}
	})
}
