package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/sustain"
)

func init() {
	register(command{name: "sustainment", usage: "munitions ledger, transfers, work orders, readiness: import and reports", run: runSustainment})
}

func sustainUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: kizuna sustainment <sub-command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  import  --url URL FILE     send a JSON file of items, locations, units, movements and")
	fmt.Fprintln(w, "                             scheduled production to a node's REST API, in that order")
	fmt.Fprintln(w, "  report  --url URL KIND     print stocks, totals, transfers, workorders, readiness,")
	fmt.Fprintln(w, "                             movements or forecast (--item, --location, --owner, --days);")
	fmt.Fprintln(w, "                             --csv prints the node's CSV export instead of a table")
	fmt.Fprintln(w, "  verify  --data DIR         prove conservation and replay the ledger of a node's data")
	fmt.Fprintln(w, "                             directory (exit 3 if it does not hold); --store URL checks")
	fmt.Fprintln(w, "                             a cluster's ledger in its shared PostgreSQL instead")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "URL is the node's HTTP listener, for example http://127.0.0.1:8080; the caller acts as")
	fmt.Fprintln(w, "that listener's principal, and every answer is filtered by its labels.")
}

func runSustainment(ctx context.Context, args []string, env Env) error {
	return dispatch(env, "sustainment", args, sustainUsage,
		subcommand{"import", func(args []string) error { return sustainImport(ctx, args, env) }},
		subcommand{"report", func(args []string) error { return sustainReport(ctx, args, env) }},
		subcommand{"verify", func(args []string) error { return sustainVerify(args, env) }},
	)
}

// importFile is what `kizuna sustainment import` reads.
// Each record is sent as written; the node validates it.
type importFile struct {
	Items     []json.RawMessage `json:"items"`
	Locations []json.RawMessage `json:"locations"`
	Units     []json.RawMessage `json:"units"`
	Movements []json.RawMessage `json:"movements"`
	Schedule  []json.RawMessage `json:"schedule"`
}

func sustainClient(base string) (*url.URL, *http.Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("--url %q: want http://HOST:PORT", base)
	}
	return u, &http.Client{Timeout: 30 * time.Second}, nil
}

func call(ctx context.Context, c *http.Client, base *url.URL, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.Path = strings.TrimSuffix(base.Path, "/") + path[:i]
		u.RawQuery = path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func sustainImport(ctx context.Context, args []string, env Env) error {
	fs := newFlags(env, "sustainment import")
	base := fs.String("url", "http://127.0.0.1:8080", "the node's HTTP `URL`")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		sustainUsage(env.Stderr)
		return errUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	var in importFile
	dec := json.NewDecoder(io.LimitReader(f, 256<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	u, c, err := sustainClient(*base)
	if err != nil {
		return err
	}
	p := "/api/v1/sustainment"
	for _, it := range in.Items {
		if _, err := call(ctx, c, u, "POST", p+"/items", it); err != nil {
			return err
		}
	}
	for _, l := range in.Locations {
		if _, err := call(ctx, c, u, "POST", p+"/locations", l); err != nil {
			return err
		}
	}
	for _, un := range in.Units {
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(un, &id); err != nil || id.ID == "" {
			return fmt.Errorf("a unit without an id: %s", un)
		}
		if _, err := call(ctx, c, u, "PUT", p+"/units/"+url.PathEscape(id.ID), un); err != nil {
			return err
		}
	}
	for i := 0; i < len(in.Movements); i += 5000 {
		end := min(i+5000, len(in.Movements))
		if _, err := call(ctx, c, u, "POST", p+"/movements", map[string]any{"movements": in.Movements[i:end]}); err != nil {
			return fmt.Errorf("movements %d-%d: %w", i, end-1, err)
		}
	}
	for _, sc := range in.Schedule {
		if _, err := call(ctx, c, u, "POST", p+"/schedule", sc); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "imported %d items, %d locations, %d units, %d movements, %d scheduled lots\n",
		len(in.Items), len(in.Locations), len(in.Units), len(in.Movements), len(in.Schedule))
	return nil
}

func sustainReport(ctx context.Context, args []string, env Env) error {
	fs := newFlags(env, "sustainment report")
	base := fs.String("url", "http://127.0.0.1:8080", "the node's HTTP `URL`")
	asCSV := fs.Bool("csv", false, "print the node's CSV export")
	item := fs.String("item", "", "item (stocks, movements, forecast)")
	loc := fs.String("location", "", "location (stocks, movements, forecast)")
	owner := fs.String("owner", "", "owner nation (forecast; default the caller's)")
	days := fs.Int("days", 30, "forecast horizon in days")
	// Flags may follow the kind.
	var kind string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if kind == "" && fs.NArg() == 1 {
		kind = fs.Arg(0)
	}
	q := url.Values{}
	for k, v := range map[string]string{"item": *item, "location": *loc, "owner": *owner} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if kind == "forecast" {
		q.Set("days", fmt.Sprint(*days))
	}
	switch kind {
	case "stocks", "totals", "transfers", "workorders", "readiness", "movements", "forecast":
	default:
		sustainUsage(env.Stderr)
		return errUsage
	}
	if *asCSV {
		if kind == "totals" {
			return errors.New("totals have no CSV export")
		}
		q.Set("format", "csv")
	}
	u, c, err := sustainClient(*base)
	if err != nil {
		return err
	}
	b, err := call(ctx, c, u, "GET", "/api/v1/sustainment/"+kind+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if *asCSV {
		_, err := env.Stdout.Write(b)
		return err
	}
	return printReport(env.Stdout, kind, b)
}

func printReport(w io.Writer, kind string, b []byte) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	switch kind {
	case "stocks":
		var v struct{ Stocks []sustain.Stock }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ITEM\tLOCATION\tOWNER\tQUANTITY\tNODE\tMARKING")
		for _, s := range v.Stocks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Item, s.Location, s.Owner, s.Quantity, s.Node, s.Label.Marking())
		}
	case "totals":
		var v struct{ Totals []sustain.Total }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ITEM\tQUANTITY\tENTRIES")
		for _, t := range v.Totals {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Item, t.Quantity, t.Entries)
		}
	case "transfers":
		var v struct{ Transfers []sustain.TransferRecord }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tITEM\tQTY\tFROM\tTO\tSTATE\tMARKING")
		for _, t := range v.Transfers {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s (%s)\t%s (%s)\t%s\t%s\n", t.ID, t.Item, t.Quantity, t.From, t.FromNation, t.To, t.ToNation, t.State, t.Label.Marking())
		}
	case "workorders":
		var v struct{ Workorders []sustain.WorkOrder }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tASSET\tFACILITY\tTYPE\tSTATUS\tPLANNED\tMARKING")
		for _, o := range v.Workorders {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Asset, o.Facility, o.Type, o.Status, o.Planned.Format(time.DateOnly), o.Label.Marking())
		}
	case "readiness":
		var v struct{ Readiness []sustain.Readiness }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "UNIT\tCOLOUR\tROLLUP\tEQUIPMENT\tMUNITIONS\tNODE")
		for _, r := range v.Readiness {
			var m []string
			for _, x := range r.Munitions {
				m = append(m, fmt.Sprintf("%s %d/%d", x.Item, x.OnHand, x.Required))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Unit, r.Colour, r.Rollup, r.Available, r.Assigned, strings.Join(m, ", "), r.Node)
		}
	case "movements":
		var v struct{ Movements []sustain.Movement }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		fmt.Fprintln(tw, "SEQ\tTIME\tITEM\tQTY\tFROM\tTO\tREASON")
		for _, m := range v.Movements {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s (%s)\t%s (%s)\t%s\n", m.Seq, m.Time.Format(time.RFC3339), m.Item, m.Quantity, m.From, m.FromOwner, m.To, m.ToOwner, m.Reason)
		}
	case "forecast":
		var f sustain.Forecast
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s at %s (%s): on hand %d, %.2f/day, safety %d\n", f.Item, f.Location, f.Owner, f.OnHand, f.Rate, f.Safety)
		if f.BelowSafety != nil {
			fmt.Fprintf(tw, "below safety level on %s\n", f.BelowSafety.Format(time.DateOnly))
		}
		fmt.Fprintln(tw, "DAY\tDATE\tQUANTITY")
		for _, p := range f.Points {
			fmt.Fprintf(tw, "%d\t%s\t%.1f\n", p.Day, p.Date.Format(time.DateOnly), p.Quantity)
		}
	}
	return nil
}

func sustainVerify(args []string, env Env) error {
	fs := newFlags(env, "sustainment verify")
	data := fs.String("data", "./kizuna-data", "the node's data `directory`")
	nation := fs.String("nation", "USA", "the node's nation")
	catalogue := fs.String("sustain-catalogue", "", "the node's extra catalogue `file`, if it has one")
	pgURL := fs.String("store", "", "cluster mode: the shared PostgreSQL `URL` (postgres://…, with the cluster's search_path)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	cfg := sustain.Config{Nation: *nation, NodeID: "verify", CatalogueFile: *catalogue}
	if *pgURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, *pgURL)
		if err != nil {
			return fmt.Errorf("connecting to the cluster store: %w", err)
		}
		defer pool.Close()
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		cfg.Shared = db
	} else {
		cfg.DBPath = filepath.Join(*data, "sustain.db")
		if _, err := os.Stat(cfg.DBPath); err != nil {
			return err
		}
	}
	s, err := sustain.New(cfg)
	if err != nil {
		return exitCode{3, err}
	}
	defer s.Stop(context.Background())
	if err := s.Verify(); err != nil {
		return exitCode{3, err}
	}
	fmt.Fprintln(env.Stdout, "ledger intact: conservation holds and the balances equal a replay from scratch")
	return nil
}
