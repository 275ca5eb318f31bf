package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kizuna/internal/audit"
)

func init() {
	register(command{name: "audit", usage: "audit log tools: verify the tamper-evident chain, show records", run: runAudit})
}

func runAudit(ctx context.Context, args []string, env Env) error {
	return dispatch(env, "audit", args, auditUsage,
		subcommand{"verify", func(args []string) error { return runAuditVerify(ctx, args, env) }},
		subcommand{"show", func(args []string) error { return runAuditShow(args, env) }},
	)
}

func auditUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: kizuna audit <sub-command> --data DIR [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  verify   check the audit chain and its signed checkpoints;")
	fmt.Fprintln(w, "           exit 0 if intact, 3 naming the first bad record if not")
	fmt.Fprintln(w, "  show     print records, optionally filtered (--since SEQ, --action PREFIX, --decision D)")
}

func runAuditVerify(ctx context.Context, args []string, env Env) error {
	fs := newFlags(env, "audit verify")
	data := fs.String("data", "./kizuna-data", "the node's data directory (the log is in DIR/audit)")
	clusterStore := fs.String("store", "", "cluster mode: the shared PostgreSQL `URL`; the log must also match every\ncheckpoint the cluster recorded for --instance")
	instance := fs.String("instance", "", "cluster mode: the `id` of the instance whose data directory --data is")
	key := fs.String("key", "", "PEM file with the node's certificate or public key; when given, every\ncheckpoint must carry a valid signature by it (instead of the keys recorded beside the log)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: kizuna audit verify --data DIR [--key FILE]")
		fmt.Fprintln(env.Stderr, "\nChecks every record's hash and link to the previous one, the sequence,")
		fmt.Fprintln(env.Stderr, "and every checkpoint. Exit 0 if intact, 3 if tampered or torn.")
		fs.PrintDefaults()
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kizuna audit verify: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if _, err := os.Stat(filepath.Join(*data, audit.SubDir, audit.LogFile)); err != nil {
		return fmt.Errorf("no audit log in %s: %w", *data, err)
	}
	var (
		rep audit.Report
		err error
	)
	if *key != "" {
		b, rerr := os.ReadFile(*key)
		if rerr != nil {
			return fmt.Errorf("reading key: %w", rerr)
		}
		keys, perr := audit.ParsePublicKeys(b)
		if perr != nil {
			return fmt.Errorf("%s: %w", *key, perr)
		}
		rep, err = audit.VerifyWithKey(*data, keys...)
	} else {
		rep, err = audit.Verify(*data)
	}
	if errors.Is(err, audit.ErrTampered) || errors.Is(err, audit.ErrTorn) {
		fmt.Fprintf(env.Stdout, "FAIL: %d records verified before the first bad one\n", rep.Records)
		return exitCode{code: 3, err: err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "OK: %d records, head seq %d hash %s, %d checkpoints (%d signatures verified)\n",
		rep.Records, rep.HeadSeq, rep.HeadHash, rep.Checkpoints, rep.Signed)
	if *clusterStore != "" {
		return verifyClusterAudit(ctx, *clusterStore, *instance, *data, env)
	}
	return nil
}

func runAuditShow(args []string, env Env) error {
	fs := newFlags(env, "audit show")
	data := fs.String("data", "./kizuna-data", "the node's data directory")
	since := fs.Uint64("since", 0, "only records with a seq above this")
	action := fs.String("action", "", "only actions starting with this, e.g. enroll. or tls.refuse")
	decision := fs.String("decision", "", "only this decision: allow, deny or info")
	asJSON := fs.Bool("json", false, "print the records as JSON lines")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: kizuna audit show --data DIR [--since SEQ] [--action PREFIX] [--decision D] [--json]")
		fmt.Fprintln(env.Stderr, "\nPrints audit records (without checking the chain: use 'audit verify').")
		fs.PrintDefaults()
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	return audit.Read(*data, func(r audit.Record) error {
		if r.Seq <= *since || !strings.HasPrefix(r.Action, *action) || (*decision != "" && r.Decision != *decision) {
			return nil
		}
		if *asJSON {
			return enc.Encode(r)
		}
		reason := ""
		if r.Reason != "" {
			reason = "  " + r.Reason
		}
		_, err := fmt.Fprintf(env.Stdout, "%6d %s %-5s %-18s %s %s%s\n", r.Seq, r.Time.Format("2006-01-02T15:04:05.000Z"), r.Decision, r.Action, r.Actor, r.Object, reason)
		return err
	})
}
