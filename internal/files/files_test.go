package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"kizuna/internal/label"
)

var (
	jpn    = label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "SAKURA-1"}
	jpn2   = label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "SAKURA-2"}
	jpnLow = label.Principal{Nation: "JPN", Clearance: label.Unclassified, Name: "SAKURA-3"}
	kor    = label.Principal{Nation: "KOR", Clearance: label.TopSecret, Name: "TIGER-1"}
	usa    = label.Principal{Nation: "USA", Clearance: label.Secret, Name: "EAGLE-1"}
)

func newStore(t *testing.T, dir string, max int64) *Store {
	t.Helper()
	s, err := New(Config{Dir: dir, MaxSize: max})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestPutGetLabels(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir, 1<<20)
	ctx := context.Background()
	body := []byte("mission package bytes")
	m, err := s.Put(ctx, jpn, PutRequest{Name: "pkg.txt", ContentType: "text/plain", Hash: sum(body)}, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash != sum(body) || m.Size != int64(len(body)) || m.Label.Originator != "JPN" || m.Label.Classification != label.Secret {
		t.Fatalf("meta %+v", m)
	}
	tests := []struct {
		name string
		p    label.Principal
		ok   bool
	}{
		{"same nation", jpn2, true},
		{"lower clearance", jpnLow, false},
		{"other nation with the hash", kor, false},
		{"usa", usa, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := s.Open(tc.p, m.Hash)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(b, body) {
					t.Errorf("content %q", b)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Open = %v, want ErrNotFound", err)
			}
			if _, err := s.Stat(tc.p, m.Hash); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat = %v", err)
			}
			if len(s.List(tc.p)) != 0 {
				t.Error("listed")
			}
			if err := s.Delete(tc.p, m.Hash); !errors.Is(err, ErrNotFound) {
				t.Errorf("Delete = %v, want ErrNotFound (no existence leak)", err)
			}
		})
	}
	// KOR uploading the same bytes learns nothing and gets its own entry.
	km, err := s.Put(ctx, kor, PutRequest{Name: "mine.txt"}, bytes.NewReader(body))
	if err != nil || km.Owner != "KOR/TIGER-1" || km.Name != "mine.txt" {
		t.Fatalf("KOR upload of the same content: %+v %v", km, err)
	}
	if mm, err := s.Stat(kor, m.Hash); err != nil || mm.Name != "mine.txt" {
		t.Fatalf("KOR sees %+v %v", mm, err)
	}
	if mm, err := s.Stat(jpn2, m.Hash); err != nil || mm.Name != "pkg.txt" {
		t.Fatalf("JPN sees %+v %v", mm, err)
	}
	// A JPN user who is not the owner cannot delete.
	if err := s.Delete(jpn2, m.Hash); !errors.Is(err, ErrNotOwner) {
		t.Errorf("Delete by non-owner = %v", err)
	}

	// Survives a restart; a crashed upload's temporary file is cleaned up.
	if err := os.WriteFile(filepath.Join(dir, "blobs", ".upload-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, dir, 1<<20)
	if _, err := os.Stat(filepath.Join(dir, "blobs", ".upload-123")); !os.IsNotExist(err) {
		t.Errorf("temporary upload left after restart: %v", err)
	}
	if _, err := s2.Stat(jpn2, m.Hash); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if _, err := s2.Stat(usa, m.Hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after restart USA: %v", err)
	}
	// The owner deletes its entry; KOR's stays, then KOR deletes its own.
	if err := s2.Delete(jpn, m.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Stat(jpn2, m.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("JPN still sees a deleted file: %v", err)
	}
	if err := s2.Delete(kor, m.Hash); err != nil {
		t.Fatal(err)
	}
	s3 := newStore(t, dir, 1<<20)
	if len(s3.List(kor)) != 0 {
		t.Error("deleted file back after restart")
	}
}

func TestPutLabelChoice(t *testing.T) {
	s := newStore(t, t.TempDir(), 1<<20)
	ctx := context.Background()
	tests := []struct {
		name    string
		p       label.Principal
		l       *label.Label
		err     error
		visible []label.Principal
		hidden  []label.Principal
	}{
		{"default", jpn, nil, nil, []label.Principal{jpn2}, []label.Principal{kor, jpnLow}},
		{"widened to KOR", jpn, &label.Label{Classification: label.Confidential, ReleasableTo: []string{"KOR"}}, nil, []label.Principal{jpn2, kor}, []label.Principal{usa, jpnLow}},
		{"narrowed to U", jpn, &label.Label{Classification: label.Unclassified}, nil, []label.Principal{jpnLow}, []label.Principal{kor}},
		{"originator cannot be forged", jpn, &label.Label{Classification: label.Unclassified, Originator: "USA"}, nil, []label.Principal{jpnLow}, []label.Principal{usa}},
		{"above clearance", jpnLow, &label.Label{Classification: label.Secret}, ErrLabel, nil, nil},
		{"bad nation", jpn, &label.Label{Classification: label.Secret, ReleasableTo: []string{"kor"}}, ErrLabel, nil, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte{byte(i), 'x'}
			m, err := s.Put(ctx, tc.p, PutRequest{Name: "f", Label: tc.l}, bytes.NewReader(body))
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("Put = %v, want %v", err, tc.err)
			}
			for _, p := range tc.visible {
				if _, err := s.Stat(p, m.Hash); err != nil {
					t.Errorf("%v cannot see it: %v", p, err)
				}
			}
			for _, p := range tc.hidden {
				if _, err := s.Stat(p, m.Hash); err == nil {
					t.Errorf("%v sees it", p)
				}
			}
		})
	}
}

func TestPutRefusals(t *testing.T) {
	s := newStore(t, t.TempDir(), 16)
	ctx := context.Background()
	tests := []struct {
		name string
		req  PutRequest
		body string
		err  error
	}{
		{"too large", PutRequest{Name: "a"}, "0123456789abcdefg", ErrTooLarge},
		{"hash mismatch", PutRequest{Name: "a", Hash: sum([]byte("other"))}, "abc", ErrHashMismatch},
		{"bad hash", PutRequest{Name: "a", Hash: "xyz"}, "abc", ErrBadHash},
		{"html", PutRequest{Name: "a.html", ContentType: "text/html; charset=utf-8"}, "<p>", ErrContentType},
		{"svg", PutRequest{Name: "a.svg", ContentType: "image/svg+xml"}, "<svg/>", ErrContentType},
		{"zip that is not", PutRequest{Name: "a.zip", ContentType: "application/zip"}, "not a zip", ErrContentType},
		{"path name", PutRequest{Name: "../etc/passwd"}, "x", ErrBadName},
		{"empty name", PutRequest{}, "x", ErrBadName},
		{"exactly the limit", PutRequest{Name: "a"}, "0123456789abcdef", nil},
		{"zip", PutRequest{Name: "a.zip", ContentType: "application/x-zip-compressed"}, "PK\x03\x04rest", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(ctx, jpn, tc.req, bytes.NewReader([]byte(tc.body)))
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("Put = %v, want %v", err, tc.err)
			}
		})
	}
	if n := len(s.List(jpn)); n != 2 {
		t.Errorf("%d files stored, want 2", n)
	}
}

func FuzzCheckNameAndType(f *testing.F) {
	f.Add("pkg.zip", "application/zip")
	f.Add("../x", "text/html")
	f.Add("a\x00b", "image/svg+xml; charset=utf-8")
	f.Fuzz(func(t *testing.T, name, ct string) {
		if n, err := CheckName(name); err == nil && (n == "" || bytes.ContainsAny([]byte(n), "/\\\x00")) {
			t.Fatalf("accepted name %q", n)
		}
		if c, err := CheckContentType(ct); err == nil {
			if c2, err := CheckContentType(c); err != nil || c2 != c {
				t.Fatalf("normalized type %q not stable: %q %v", c, c2, err)
			}
		}
	})
}
