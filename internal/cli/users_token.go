package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/users"
)

// usersToken issues a single-use enrollment token for an existing user.
// The issue is recorded in a tamper-evident audit log beside the users
// file (DIR/enroll-audit/, checked with kizuna audit verify --data
// DIR/enroll-audit); the node audits each use and refusal in its own log.
func usersToken(args []string, env Env) error {
	fs, file := usersFlags(env, "token")
	name := fs.String("name", "", "the user the token enrolls")
	ttl := fs.Duration("ttl", 24*time.Hour, "validity (at most 720h)")
	if err := parseFlags(fs, args, "name"); err != nil {
		return err
	}
	s, err := users.Open(*file)
	if err != nil {
		return err
	}
	u, err := s.Get(*name)
	if err != nil {
		return err
	}
	ts, err := users.OpenTokens(users.TokensPath(*file))
	if err != nil {
		return err
	}
	tok, rec, err := ts.Issue(u.Name, *ttl)
	if err != nil {
		return err
	}
	if err := tokenAudit(*file, rec); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", tok)
	fmt.Fprintf(env.Stderr, "token %s for %s (%s), single use, expires %s\n", rec.ID, u.Name, u.Principal(), rec.Expires.Format(time.RFC3339))
	return nil
}

func tokenAudit(usersFile string, rec users.Token) error {
	dir := filepath.Join(filepath.Dir(usersFile), "enroll-audit")
	log, err := audit.Open(dir, audit.Config{Actor: "operator", CheckpointInterval: -1})
	if err != nil {
		return fmt.Errorf("opening the enrollment audit log: %w", err)
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	_, err = log.Append(context.Background(), audit.Record{
		Actor: "operator:" + user, Action: "users.token", Object: "token:" + rec.ID + " user:" + rec.User, Decision: "allow",
		Reason: "single-use enrollment token, expires " + rec.Expires.Format(time.RFC3339),
	})
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording the token in the audit log: %w", err)
	}
	return nil
}

func usersTokens(args []string, env Env) error {
	fs, file := usersFlags(env, "tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ts, err := users.OpenTokens(users.TokensPath(*file))
	if err != nil {
		return err
	}
	list, err := ts.List()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%-12s %-20s %-20s %s\n", "ID", "USER", "EXPIRES", "USED")
	for _, t := range list {
		used := "-"
		if !t.Used.IsZero() {
			used = t.Used.Format(time.RFC3339) + " " + t.UsedBy
		}
		fmt.Fprintf(env.Stdout, "%-12s %-20s %-20s %s\n", t.ID, t.User, t.Expires.Format(time.RFC3339), used)
	}
	return nil
}
