package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/taxii"
)

func init() {
	register(command{name: "taxii", usage: "TAXII 2.1 client: pull a collection from another server into a Kizuna collection", run: runTAXII})
}

func runTAXII(ctx context.Context, args []string, env Env) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: kizuna taxii pull --from URL --to URL --label MARKING [flags]")
	}
	return dispatch(env, "taxii", args, usage,
		subcommand{"pull", func(args []string) error { return taxiiPull(ctx, args, env) }})
}

func taxiiPull(ctx context.Context, args []string, env Env) error {
	fs := newFlags(env, "taxii pull")
	from := fs.String("from", "", "source collection URL, e.g. https://cert.example/taxii2/feed/collections/ID/")
	to := fs.String("to", "", "destination Kizuna collection URL, e.g. http://127.0.0.1:8080/taxii2/kizuna/collections/ID/")
	cls := fs.String("classification", "", "classification of the imported objects (U, C, S, TS)")
	rel := fs.String("releasable-to", "", "nations the imported objects are releasable to, e.g. \"JPN USA\" (the node's own nation always is)")
	state := fs.String("state", "", "file keeping the last date_added imported, to resume with added_after")
	cert := fs.String("cert", "", "client certificate (PEM) for https URLs")
	key := fs.String("key", "", "client key (PEM) for https URLs")
	ca := fs.String("ca", "", "CA certificates (PEM) trusted for https URLs; default: the system's")
	limit := fs.Int("limit", taxii.MaxPage, "page size asked of the source")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" || *cls == "" {
		fmt.Fprintln(env.Stderr, "kizuna taxii pull: --from, --to and --classification are required")
		return errUsage
	}
	c, err := label.ParseClassification(*cls)
	if err != nil {
		return err
	}
	nations, err := label.ParseReleasableTo(*rel)
	if err != nil {
		return err
	}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if *cert != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return fmt.Errorf("loading client certificate: %w", err)
		}
		tcfg.Certificates = []tls.Certificate{kp}
	}
	if *ca != "" {
		b, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("no certificates in %s", *ca)
		}
		tcfg.RootCAs = pool
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tcfg}, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := taxii.Pull(ctx, taxii.PullConfig{
		From: *from, To: *to, FromClient: hc, ToClient: hc, StateFile: *state, Limit: *limit,
		Label: label.Label{Classification: c, ReleasableTo: nations},
	})
	fmt.Fprintf(env.Stdout, "pages=%d fetched=%d stored=%d refused=%d added_after=%s\n", res.Pages, res.Fetched, res.Stored, res.Refused, res.AddedAfter)
	for i, f := range res.Failures {
		if i == 10 {
			fmt.Fprintf(env.Stdout, "… %d more refused\n", len(res.Failures)-10)
			break
		}
		fmt.Fprintf(env.Stdout, "refused %s: %s\n", f.ID, strings.TrimSpace(f.Message))
	}
	return err
}
