package clusteraudit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"kizuna/internal/audit"
	"kizuna/internal/clusteraudit"
	"kizuna/internal/clustertest"
	"kizuna/internal/pgstore"
)

// writeLog writes n records by actor to a fresh audit log in dir and
// returns its head.
func writeLog(t *testing.T, dir, actor string, n int) audit.Record {
	t.Helper()
	l, err := audit.Open(dir, audit.Config{Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(context.Background(), audit.Record{Actor: actor, Action: "test", Object: fmt.Sprint(i), Decision: "info"}); err != nil {
			t.Fatal(err)
		}
	}
	h := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVerifyTamper checks per-instance chains against cluster checkpoints:
// an intact log passes; a log rewritten consistently (its own chain
// verifies) or truncated behind a checkpoint fails with ErrMismatch.
func TestVerifyTamper(t *testing.T) {
	url := clustertest.Postgres(t)
	st, err := pgstore.Open(context.Background(), pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pool := st.Pool()
	ctx := context.Background()

	dir := t.TempDir()
	mid := writeLog(t, dir, "node:a", 5)
	if err := clusteraudit.Checkpoint(ctx, pool, "a", mid.Seq, mid.Hash); err != nil {
		t.Fatal(err)
	}
	head := writeLog(t, dir, "node:a", 5)
	if err := clusteraudit.Checkpoint(ctx, pool, "a", head.Seq, head.Hash); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantErr error
	}{
		{"intact", func(*testing.T) string { return dir }, nil},
		{"rewritten chain", func(t *testing.T) string {
			other := t.TempDir()
			writeLog(t, other, "node:forged", int(head.Seq)+3)
			return other
		}, clusteraudit.ErrMismatch},
		{"truncated", func(t *testing.T) string {
			short := t.TempDir()
			writeLog(t, short, "node:a", int(mid.Seq)+1)
			return short
		}, clusteraudit.ErrMismatch},
		{"record edited", func(t *testing.T) string {
			cp := t.TempDir()
			src := filepath.Join(dir, audit.SubDir, audit.LogFile)
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(cp, audit.SubDir), 0o700)
			b = []byte(string(b[:len(b)/2]) + "X" + string(b[len(b)/2+1:]))
			os.WriteFile(filepath.Join(cp, audit.SubDir, audit.LogFile), b, 0o600)
			return cp
		}, audit.ErrTampered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := clusteraudit.Verify(ctx, pool, "a", tc.dir(t))
			if tc.wantErr == nil {
				if err != nil || res.Checkpoints != 2 {
					t.Fatalf("Verify = %+v, %v; want 2 checkpoints matched", res, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := clusteraudit.Verify(ctx, pool, "unknown", dir); !errors.Is(err, clusteraudit.ErrMismatch) {
		t.Errorf("Verify of an instance without checkpoints = %v, want ErrMismatch", err)
	}
	ids, err := clusteraudit.Instances(ctx, pool)
	if err != nil || len(ids) != 1 || ids[0] != "a" {
		t.Errorf("Instances = %v, %v; want [a]", ids, err)
	}
}
