package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"kizuna/internal/audit"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/pki"
)

func init() {
	register(command{name: "pki", usage: "certificate authority per nation: certificates, revocation, ATAK data packages", run: runPKI})
	pkiSubs = pkiSubcommands()
}

type pkiSub struct {
	name, args, help string
	run              func(args []string, env Env) error
}

// pkiSubs is set in init: its entries refer back to it through pkiFlags.
var pkiSubs []pkiSub

func pkiSubcommands() []pkiSub {
	return []pkiSub{
		{"init", "--nation JPN --out DIR", "create a national CA (ECDSA P-384, 10 years)", pkiInit},
		{"issue", "--ca DIR --name CALLSIGN --nation JPN --clearance SECRET [--role R] --out DIR", "issue a TAK client certificate (PEM and .p12)", pkiIssue},
		{"server", "--ca DIR --host NAME [--host NAME…] --out DIR", "issue a TLS server certificate", pkiServer},
		{"node", "--ca DIR --name NODE-ID [--host NAME…] --out DIR", "issue a node certificate (listeners and federation)", pkiNode},
		{"revoke", "--ca DIR --serial N [--reason CODE]", "revoke a certificate and re-sign the CRL", pkiRevoke},
		{"crl", "--ca DIR", "re-sign the CRL (renews its next-update time)", pkiCRL},
		{"list", "--ca DIR", "list the certificates the CA issued", pkiList},
		{"package", "--ca DIR [--cert DIR|FILE] --server HOST:8089 --out FILE.zip [--format atak|itak|wintak]", "build an ATAK, iTAK or WinTAK connection data package", pkiPackage},
	}
}

func pkiUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: kizuna pki <sub-command> [flags]")
	fmt.Fprintln(w)
	for _, s := range pkiSubs {
		fmt.Fprintf(w, "  %-8s %s\n           kizuna pki %s %s\n", s.name, s.help, s.name, s.args)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'kizuna pki <sub-command> -h' for its flags.")
}

func runPKI(_ context.Context, args []string, env Env) error {
	subs := make([]subcommand, len(pkiSubs))
	for i, s := range pkiSubs {
		subs[i] = subcommand{s.name, func(args []string) error {
			if err := s.run(args, env); err != nil {
				return err
			}
			return pkiAudit(s.name, args)
		}}
	}
	return dispatch(env, "pki", args, pkiUsage, subs...)
}

type pkiStrings []string

func (s *pkiStrings) String() string { return strings.Join(*s, ",") }
func (s *pkiStrings) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// pkiFlags makes a flag set whose usage names the sub-command.
func pkiFlags(env Env, sub string) *flag.FlagSet {
	fs := newFlags(env, "pki "+sub)
	for _, s := range pkiSubs {
		if s.name == sub {
			fs.Usage = func() {
				fmt.Fprintf(env.Stderr, "usage: kizuna pki %s %s\n\n%s.\n\nflags:\n", s.name, s.args, strings.ToUpper(s.help[:1])+s.help[1:])
				fs.PrintDefaults()
			}
		}
	}
	return fs
}

func pkiValidity(days int) (pki.Validity, error) {
	if days < 0 {
		return pki.Validity{}, fmt.Errorf("--days must be positive")
	}
	if days == 0 {
		return pki.Validity{}, nil
	}
	now := time.Now()
	return pki.Validity{NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(time.Duration(days) * 24 * time.Hour)}, nil
}

// writeOut writes files into dir (created 0700), refusing to overwrite
// unless force is set.
func pkiWriteOut(dir string, force bool, files map[string][]byte, modes map[string]os.FileMode) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if !force {
		for name := range files {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return nil, fmt.Errorf("%s already exists (use --force to overwrite)", filepath.Join(dir, name))
			}
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, name)
		mode := modes[name]
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, files[name], mode); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, mode); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func pkiFileBase(name string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", " ", "_", ":", "_")
	return r.Replace(name)
}

func pkiInit(args []string, env Env) error {
	fs := pkiFlags(env, "init")
	nation := fs.String("nation", "", "ISO 3166 alpha-3 code of the CA's nation, e.g. JPN")
	out := fs.String("out", "", "directory for the CA (ca.pem, ca.key, crl.pem, ca.json)")
	if err := parseFlags(fs, args, "nation", "out"); err != nil {
		return err
	}
	ca, err := pki.InitCA(*out, *nation)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "created %s CA %q in %s\n", ca.Nation, ca.Cert.Subject.CommonName, ca.Dir)
	fmt.Fprintf(env.Stdout, "  certificate %s (valid until %s)\n", filepath.Join(ca.Dir, pki.CACertFile), ca.Cert.NotAfter.UTC().Format("2006-01-02"))
	fmt.Fprintf(env.Stdout, "  private key %s (mode 0600: keep it offline)\n", filepath.Join(ca.Dir, pki.CAKeyFile))
	fmt.Fprintf(env.Stdout, "  CRL         %s\n", filepath.Join(ca.Dir, pki.CRLFile))
	fmt.Fprintf(env.Stdout, "nodes trust it with: --trust %s=%s --crl %s=%s\n", ca.Nation, filepath.Join(ca.Dir, pki.CACertFile), ca.Nation, filepath.Join(ca.Dir, pki.CRLFile))
	return nil
}

func pkiIssue(args []string, env Env) error {
	fs := pkiFlags(env, "issue")
	issuing := pkiIssuingFlags(fs)
	name := fs.String("name", "", "callsign or user name: the certificate's CN")
	nation := fs.String("nation", "", "the holder's nation; must be the CA's nation")
	clearance := fs.String("clearance", "", "UNCLASSIFIED, CONFIDENTIAL, SECRET or TOP SECRET (U, C, S, TS)")
	role := fs.String("role", "", "optional role: operator, commander or admin")
	out := fs.String("out", "", "output directory for NAME.pem, NAME.key and NAME.p12")
	password := fs.String("password", pki.DefaultPassword, "password of the .p12 bundle")
	if err := parseFlags(fs, args, "ca", "name", "nation", "clearance", "out"); err != nil {
		return err
	}
	cl, err := label.ParseClassification(*clearance)
	if err != nil {
		return fmt.Errorf("--clearance: %w", err)
	}
	ca, v, err := issuing.load()
	if err != nil {
		return err
	}
	n, err := label.ParseNation(*nation)
	if err != nil {
		return fmt.Errorf("--nation: %w", err)
	}
	if n != ca.Nation {
		return fmt.Errorf("--nation %s: %w (this CA is %s's; a principal's nation is always its CA's)", n, pki.ErrNationMismatch, ca.Nation)
	}
	iss, err := ca.IssueClient(pki.Identity{Name: *name, Nation: n, Clearance: cl, Role: *role}, v)
	if err != nil {
		return err
	}
	keyPEM, err := iss.KeyPEM()
	if err != nil {
		return err
	}
	p12, err := pki.ClientP12(iss, []*x509.Certificate{ca.Cert}, *password)
	if err != nil {
		return err
	}
	base := pkiFileBase(*name)
	paths, err := pkiWriteOut(*out, *issuing.force,
		map[string][]byte{base + ".pem": iss.CertPEM(), base + ".key": keyPEM, base + ".p12": p12},
		map[string]os.FileMode{base + ".key": 0o600, base + ".p12": 0o600})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "issued client certificate serial %s: %s\n", iss.Cert.SerialNumber, iss.Cert.Subject)
	for _, p := range paths {
		fmt.Fprintf(env.Stdout, "  %s\n", p)
	}
	fmt.Fprintf(env.Stdout, "p12 password: %s\n", *password)
	return nil
}

// pkiIssuing holds the flags every issuing sub-command shares.
type pkiIssuing struct {
	caDir *string
	days  *int
	force *bool
}

func pkiIssuingFlags(fs *flag.FlagSet) pkiIssuing {
	return pkiIssuing{
		caDir: fs.String("ca", "", "CA directory (from 'pki init')"),
		days:  fs.Int("days", 0, "validity in days (default 730)"),
		force: fs.Bool("force", false, "overwrite existing files"),
	}
}

// load checks the validity and loads the CA.
func (f pkiIssuing) load() (*pki.CA, pki.Validity, error) {
	v, err := pkiValidity(*f.days)
	if err != nil {
		return nil, v, err
	}
	ca, err := pki.LoadCA(*f.caDir)
	return ca, v, err
}

func pkiServer(args []string, env Env) error {
	fs := pkiFlags(env, "server")
	issuing := pkiIssuingFlags(fs)
	var hosts pkiStrings
	fs.Var(&hosts, "host", "DNS name or IP address for the certificate's SANs (repeatable or comma-separated); the first is the CN")
	out := fs.String("out", "", "output directory for server.pem and server.key")
	if err := parseFlags(fs, args, "ca", "host", "out"); err != nil {
		return err
	}
	ca, v, err := issuing.load()
	if err != nil {
		return err
	}
	iss, err := ca.IssueServer(hosts, v)
	if err != nil {
		return err
	}
	return pkiWriteIssued(env, *out, "server", "server", iss, *issuing.force)
}

func pkiNode(args []string, env Env) error {
	fs := pkiFlags(env, "node")
	issuing := pkiIssuingFlags(fs)
	name := fs.String("name", "", "node id: the certificate's CN (must equal the node's --node-id)")
	var hosts pkiStrings
	fs.Var(&hosts, "host", "DNS name or IP address clients and peers reach the node at (repeatable or comma-separated)")
	out := fs.String("out", "", "output directory for NODE-ID.pem and NODE-ID.key")
	if err := parseFlags(fs, args, "ca", "name", "out"); err != nil {
		return err
	}
	ca, v, err := issuing.load()
	if err != nil {
		return err
	}
	iss, err := ca.IssueNode(*name, hosts, v)
	if err != nil {
		return err
	}
	return pkiWriteIssued(env, *out, pkiFileBase(*name), "node", iss, *issuing.force)
}

func pkiWriteIssued(env Env, out, base, kind string, iss *pki.Issued, force bool) error {
	keyPEM, err := iss.KeyPEM()
	if err != nil {
		return err
	}
	paths, err := pkiWriteOut(out, force,
		map[string][]byte{base + ".pem": iss.CertPEM(), base + ".key": keyPEM},
		map[string]os.FileMode{base + ".key": 0o600})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "issued %s certificate serial %s: %s\n", kind, iss.Cert.SerialNumber, iss.Cert.Subject)
	if len(iss.Cert.DNSNames)+len(iss.Cert.IPAddresses) > 0 {
		var sans []string
		sans = append(sans, iss.Cert.DNSNames...)
		for _, ip := range iss.Cert.IPAddresses {
			sans = append(sans, ip.String())
		}
		fmt.Fprintf(env.Stdout, "  names: %s\n", strings.Join(sans, ", "))
	}
	for _, p := range paths {
		fmt.Fprintf(env.Stdout, "  %s\n", p)
	}
	return nil
}

func pkiParseSerial(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	n, ok := new(big.Int), false
	if h, isHex := strings.CutPrefix(strings.ToLower(s), "0x"); isHex {
		n, ok = n.SetString(h, 16)
	} else {
		n, ok = n.SetString(s, 10)
	}
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("--serial %q: want a positive decimal number or 0x-prefixed hex", s)
	}
	return n, nil
}

func pkiRevoke(args []string, env Env) error {
	fs := pkiFlags(env, "revoke")
	caDir := fs.String("ca", "", "CA directory")
	serial := fs.String("serial", "", "serial number of the certificate (decimal, or hex with 0x; see 'pki list')")
	reason := fs.Int("reason", 0, "RFC 5280 reason code: 0 unspecified, 1 key compromise, 3 affiliation changed, 4 superseded, 5 cessation of operation")
	if err := parseFlags(fs, args, "ca", "serial"); err != nil {
		return err
	}
	n, err := pkiParseSerial(*serial)
	if err != nil {
		return err
	}
	ca, err := pki.LoadCA(*caDir)
	if err != nil {
		return err
	}
	if err := ca.Revoke(n, *reason); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "revoked serial %s; re-signed %s\n", n, filepath.Join(ca.Dir, pki.CRLFile))
	fmt.Fprintln(env.Stdout, "nodes pick it up on SIGHUP or at their next periodic CRL reload")
	return nil
}

// pkiLoadCA parses the flags of a sub-command that takes only --ca and
// loads that CA.
func pkiLoadCA(env Env, sub string, args []string) (*pki.CA, error) {
	fs := pkiFlags(env, sub)
	caDir := fs.String("ca", "", "CA directory")
	if err := parseFlags(fs, args, "ca"); err != nil {
		return nil, err
	}
	return pki.LoadCA(*caDir)
}

func pkiCRL(args []string, env Env) error {
	ca, err := pkiLoadCA(env, "crl", args)
	if err != nil {
		return err
	}
	if err := ca.RefreshCRL(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "re-signed %s\n", filepath.Join(ca.Dir, pki.CRLFile))
	return nil
}

func pkiList(args []string, env Env) error {
	ca, err := pkiLoadCA(env, "list", args)
	if err != nil {
		return err
	}
	issued, err := ca.Issued()
	if err != nil {
		return err
	}
	revoked, err := ca.RevokedSerials()
	if err != nil {
		return err
	}
	rv := map[string]bool{}
	for _, r := range revoked {
		rv[r.Serial] = true
	}
	fmt.Fprintf(env.Stdout, "%-8s %-9s %-10s %-8s %s\n", "SERIAL", "KIND", "EXPIRES", "STATUS", "SUBJECT")
	for _, e := range issued {
		status := "valid"
		switch {
		case rv[e.Serial]:
			status = "revoked"
		case time.Now().After(e.NotAfter):
			status = "expired"
		}
		fmt.Fprintf(env.Stdout, "%-8s %-9s %-10s %-8s %s\n", e.Serial, e.Kind, e.NotAfter.Format("2006-01-02"), status, e.Subject)
	}
	return nil
}

func pkiPackage(args []string, env Env) error {
	fs := pkiFlags(env, "package")
	caDir := fs.String("ca", "", "CA directory (its certificate goes into the trust store)")
	certArg := fs.String("cert", "", "client certificate: a directory from 'pki issue' or its NAME.pem\n(NAME.key beside it); omit for an enrollment package")
	keyArg := fs.String("key", "", "client key file, if not beside the certificate")
	server := fs.String("server", "", "HOST:PORT of the node's TLS CoT listener (default port 8089)")
	out := fs.String("out", "", "output .zip file")
	password := fs.String("password", pki.DefaultPassword, "password of both .p12 files in the package")
	name := fs.String("name", "", "connection name shown in ATAK (default: the host)")
	force := fs.Bool("force", false, "overwrite the output file")
	format := fs.String("format", pki.FormatATAK, "client: atak (ATAK 4/5), itak (flat zip) or wintak (outer wrapper)")
	if err := parseFlags(fs, args, "ca", "server", "out"); err != nil {
		return err
	}
	ca, err := pki.LoadCA(*caDir)
	if err != nil {
		return err
	}
	var client *pki.Issued
	if *certArg != "" {
		client, err = pkiLoadClient(*certArg, *keyArg)
		if err != nil {
			return err
		}
		if err := client.Cert.CheckSignatureFrom(ca.Cert); err != nil {
			return fmt.Errorf("%s was not issued by the %s CA in %s", *certArg, ca.Nation, ca.Dir)
		}
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("%s already exists (use --force to overwrite)", *out)
	}
	b, err := pki.PackageBytesFor(*format, pki.PackageConfig{Name: *name, Server: *server, CA: ca.Cert, Client: client, Password: *password})
	if err != nil {
		return err
	}
	if dir := filepath.Dir(*out); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return err
	}
	kind := "connection"
	if client == nil {
		kind = "enrollment"
	} else {
		kind += " package for " + client.Cert.Subject.CommonName + ","
	}
	fmt.Fprintf(env.Stdout, "wrote %s %s server %s, p12 password %s\n", kind, *out, *server, *password)
	return nil
}

// loadClient finds a client certificate and key: a directory holding one
// NAME.pem with NAME.key, or a certificate file with its key beside it.
func pkiLoadClient(certArg, keyArg string) (*pki.Issued, error) {
	certFile := certArg
	if fi, err := os.Stat(certArg); err == nil && fi.IsDir() {
		matches, _ := filepath.Glob(filepath.Join(certArg, "*.pem"))
		var cands []string
		for _, m := range matches {
			k := strings.TrimSuffix(m, ".pem") + ".key"
			if _, err := os.Stat(k); err == nil && filepath.Base(m) != pki.CACertFile {
				cands = append(cands, m)
			}
		}
		if len(cands) != 1 {
			return nil, fmt.Errorf("--cert %s: want exactly one NAME.pem with NAME.key, found %d; name the file", certArg, len(cands))
		}
		certFile = cands[0]
	}
	if keyArg == "" {
		keyArg = strings.TrimSuffix(certFile, filepath.Ext(certFile)) + ".key"
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCertPEM(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	kb, err := os.ReadFile(keyArg)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyArg, err)
	}
	if k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s: %w", keyArg, certFile, pki.ErrKeyMismatch)
	}
	return &pki.Issued{Cert: cert, Key: key}, nil
}

// pkiAudit records a PKI operation that changed a CA (init, issue,
// server, node, revoke, crl, package) in that CA's own tamper-evident
// audit log, CADIR/audit/, which `kizuna audit verify --data CADIR`
// checks. Read-only operations are not recorded. Passwords are never
// written.
func pkiAudit(sub string, args []string) error {
	if sub == "list" {
		return nil
	}
	var dir string
	var object []string
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		if !hasVal && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			val = args[i+1]
			i++
		}
		switch name {
		case "password":
			continue
		case "ca":
			dir = val
		case "out":
			if sub == "init" {
				dir = val
			}
		}
		object = append(object, name+"="+val)
	}
	if dir == "" {
		return nil
	}
	log, err := audit.Open(dir, audit.Config{Actor: "operator", CheckpointInterval: -1})
	if err != nil {
		return fmt.Errorf("opening the CA's audit log: %w", err)
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	_, err = log.Append(context.Background(), audit.Record{
		Actor: "operator:" + user, Action: "pki." + sub, Object: strings.Join(object, " "), Decision: "allow",
	})
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording pki %s in the audit log: %w", sub, err)
	}
	return nil
}
