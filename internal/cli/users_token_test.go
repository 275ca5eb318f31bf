package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"kizuna/internal/audit"
	"kizuna/internal/users"
)

// TestUsersToken: kizuna users token prints a single-use token once,
// records the issue in the enrollment audit log, and lists it.
func TestUsersToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.json")
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := runUsers(context.Background(), args, Env{Stdout: &out, Stderr: &errb})
		return out.String() + errb.String(), err
	}
	if out, err := run("add", "--file", file, "--name", "sakura", "--nation", "JPN", "--clearance", "SECRET", "--password", "sakura-password"); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, err := run("token", "--file", file, "--name", "nobody"); err == nil {
		t.Error("token for an unknown user issued")
	}
	var out bytes.Buffer
	if err := runUsers(context.Background(), []string{"token", "--file", file, "--name", "sakura", "--ttl", "2h"}, Env{Stdout: &out, Stderr: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	ts, err := users.OpenTokens(users.TokensPath(file))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ts.Check(tok)
	if err != nil || rec.User != "sakura" {
		t.Fatalf("printed token %q: %+v %v", tok, rec, err)
	}
	if rep, err := audit.Verify(filepath.Join(dir, "enroll-audit")); err != nil || rep.Records < 1 {
		t.Errorf("enrollment audit log: %+v %v", rep, err)
	}
	list, err := run("tokens", "--file", file)
	if err != nil || !strings.Contains(list, rec.ID) || strings.Contains(list, tok) {
		t.Errorf("tokens list: %v\n%s", err, list)
	}
}
