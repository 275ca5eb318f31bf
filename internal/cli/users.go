package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"kizuna/internal/label"
	"kizuna/internal/users"
)

// usersDefaultFile is where a node started with the default --data keeps
// its users file.
const usersDefaultFile = "./kizuna-data/users.json"

func init() {
	register(command{name: "users", usage: "manage the accounts that may enroll for a client certificate", run: runUsers})
}

func usersUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: kizuna users <sub-command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  add     --file F --name N --nation JPN --clearance SECRET [--role R] [--password P]")
	fmt.Fprintln(w, "          add a user; the password is read from the first line of standard input")
	fmt.Fprintln(w, "          unless --password is given")
	fmt.Fprintln(w, "  list    --file F")
	fmt.Fprintln(w, "  remove  --file F --name N")
	fmt.Fprintln(w, "  token   --file F --name N [--ttl 24h]")
	fmt.Fprintln(w, "          issue a single-use enrollment token (Bearer) for a user; printed once")
	fmt.Fprintln(w, "  tokens  --file F        list tokens (ids, users, expiry, use)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The certificate a user enrolls for carries the nation, clearance and role")
	fmt.Fprintln(w, "recorded here, never what the client asks for.")
}

func runUsers(_ context.Context, args []string, env Env) error {
	remove := func(args []string) error { return usersRemove(args, env) }
	return dispatch(env, "users", args, usersUsage,
		subcommand{"add", func(args []string) error { return usersAdd(args, env, os.Stdin) }},
		subcommand{"list", func(args []string) error { return usersList(args, env) }},
		subcommand{"remove", remove},
		subcommand{"rm", remove},
		subcommand{"token", func(args []string) error { return usersToken(args, env) }},
		subcommand{"tokens", func(args []string) error { return usersTokens(args, env) }},
	)
}

func usersFlags(env Env, sub string) (*flag.FlagSet, *string) {
	fs := newFlags(env, "users "+sub)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: kizuna users %s [flags]\n\nflags:\n", sub)
		fs.PrintDefaults()
	}
	file := fs.String("file", usersDefaultFile, "the users file")
	return fs, file
}

func usersAdd(args []string, env Env, stdin io.Reader) error {
	fs, file := usersFlags(env, "add")
	name := fs.String("name", "", "user name (the certificate's CN)")
	nation := fs.String("nation", "", "the user's nation: must be the nation of the node's CA")
	clearance := fs.String("clearance", "", "UNCLASSIFIED, CONFIDENTIAL, SECRET or TOP SECRET (U, C, S, TS)")
	role := fs.String("role", "", "optional role: operator, commander or admin")
	password := fs.String("password", "", "password (visible in the process list: prefer standard input)")
	if err := parseFlags(fs, args, "name", "nation", "clearance"); err != nil {
		return err
	}
	cl, err := label.ParseClassification(*clearance)
	if err != nil {
		return fmt.Errorf("--clearance: %w", err)
	}
	pw := *password
	if pw == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			return fmt.Errorf("no password: give it on standard input or with --password")
		}
	}
	s, err := users.Open(*file)
	if err != nil {
		return err
	}
	if err := s.Add(users.User{Name: *name, Nation: *nation, Clearance: cl, Role: *role}, pw); err != nil {
		return err
	}
	u, _ := s.Get(*name)
	fmt.Fprintf(env.Stdout, "added %s (%s) to %s\n", u.Name, u.Principal(), *file)
	return nil
}

func usersList(args []string, env Env) error {
	fs, file := usersFlags(env, "list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := users.Open(*file)
	if err != nil {
		return err
	}
	list, err := s.List()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%-20s %-6s %-13s %-10s %s\n", "NAME", "NATION", "CLEARANCE", "ROLE", "CREATED")
	for _, u := range list {
		role := u.Role
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(env.Stdout, "%-20s %-6s %-13s %-10s %s\n", u.Name, u.Nation, u.Clearance, role, u.Created.Format("2006-01-02"))
	}
	return nil
}

func usersRemove(args []string, env Env) error {
	fs, file := usersFlags(env, "remove")
	name := fs.String("name", "", "user to remove")
	if err := parseFlags(fs, args, "name"); err != nil {
		return err
	}
	s, err := users.Open(*file)
	if err != nil {
		return err
	}
	if err := s.Remove(*name); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %s from %s (certificates already issued stay valid until revoked: kizuna pki revoke)\n", *name, *file)
	return nil
}
