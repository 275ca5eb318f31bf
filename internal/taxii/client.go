package taxii

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
	"strconv"
	"strings"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// PullConfig configures Pull.
type PullConfig struct {
	// From is the source collection URL (…/collections/ID/).
	From string
	// To is the destination collection URL on a Kizuna node.
	To string
	// FromClient and ToClient make the requests (client certificates
	// live in their transports). nil means http.DefaultClient.
	FromClient, ToClient *http.Client
	// Label is what the imported objects are labelled with; its
	// originator is whatever the destination makes of the poster.
	Label label.Label
	// StateFile keeps the last date_added imported, so that the next pull
	// resumes with added_after. Empty: no resumption.
	StateFile string
	// Limit is the page size asked of the source.
	Limit int
	// MaxPost bounds one POST body to the destination.
	MaxPost int
}

// PullResult counts what a pull did.
type PullResult struct {
	Pages, Fetched, Stored, Refused int
	AddedAfter                      string
	Failures                        []StatusDetail
}

// Pull imports every object version added to From since the last pull
// into To under cfg.Label: each object's Kizuna markings are replaced by
// the marking of cfg.Label (TLP markings are kept and narrow it further).
// The state file is advanced only after a page is stored.
func Pull(ctx context.Context, cfg PullConfig) (PullResult, error) {
	var res PullResult
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	from := strings.TrimSuffix(cfg.From, "/") + "/"
	to := strings.TrimSuffix(cfg.To, "/") + "/"
	after := ""
	if cfg.StateFile != "" {
		b, err := os.ReadFile(cfg.StateFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("taxii pull: reading state: %w", err)
		}
		after = strings.TrimSpace(string(b))
	}
	markID := stix.MarkingID(cfg.Label)
	mark := stix.MarkingDefinition(cfg.Label)
	for page := 0; ; page++ {
		env, last, err := fetchPage(ctx, &cfg, from, after)
		if err != nil {
			return res, err
		}
		res.Pages++
		res.Fetched += len(env.Objects)
		if len(env.Objects) == 0 {
			break
		}
		if last == "" {
			return res, errors.New("taxii pull: source gave no X-TAXII-Date-Added-Last; cannot resume safely")
		}
		objs, err := relabel(env.Objects, markID)
		if err != nil {
			return res, err
		}
		if err := postChunks(ctx, &cfg, to, mark, objs, &res); err != nil {
			return res, err
		}
		after = last
		res.AddedAfter = after
		if cfg.StateFile != "" {
			if err := writeState(cfg.StateFile, after); err != nil {
				return res, err
			}
		}
		if !env.More {
			break
		}
	}
	return res, nil
}

// defaults checks a PullConfig and fills in its defaults.
func (cfg *PullConfig) defaults() error {
	if cfg.FromClient == nil {
		cfg.FromClient = http.DefaultClient
	}
	if cfg.ToClient == nil {
		cfg.ToClient = http.DefaultClient
	}
	if cfg.Limit <= 0 {
		cfg.Limit = MaxPage
	}
	if cfg.MaxPost <= 0 {
		cfg.MaxPost = 512 << 10
	}
	if !cfg.Label.Classification.Valid() {
		return errors.New("taxii pull: a label classification is required")
	}
	return nil
}

// pullPage is one page of a source collection's objects.
type pullPage struct {
	More    bool              `json:"more"`
	Objects []json.RawMessage `json:"objects"`
}

// fetchPage reads the page of objects added after after from the source
// collection at from, with the date-added of its last object.
func fetchPage(ctx context.Context, cfg *PullConfig, from, after string) (pullPage, string, error) {
	var env pullPage
	q := url.Values{"limit": {strconv.Itoa(cfg.Limit)}, "match[version]": {"all"}}
	if after != "" {
		q.Set("added_after", after)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", from+"objects/?"+q.Encode(), nil)
	if err != nil {
		return env, "", err
	}
	req.Header.Set("Accept", MediaTAXII)
	resp, err := cfg.FromClient.Do(req)
	if err != nil {
		return env, "", fmt.Errorf("taxii pull: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		return env, "", fmt.Errorf("taxii pull: reading: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return env, "", fmt.Errorf("taxii pull: GET %s: %s: %s", req.URL, resp.Status, trim(body))
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return env, "", fmt.Errorf("taxii pull: source envelope: %w", err)
	}
	return env, resp.Header.Get("X-TAXII-Date-Added-Last"), nil
}

// postChunks posts objs to the destination collection at to in chunks
// under cfg.MaxPost, each led by the marking, and counts the outcome in res.
func postChunks(ctx context.Context, cfg *PullConfig, to string, mark json.RawMessage, objs []json.RawMessage, res *PullResult) error {
	for len(objs) > 0 {
		chunk := []json.RawMessage{mark}
		size := len(mark)
		for len(objs) > 0 && (len(chunk) == 1 || size+len(objs[0]) < cfg.MaxPost) {
			chunk = append(chunk, objs[0])
			size += len(objs[0]) + 1
			objs = objs[1:]
		}
		st, err := post(ctx, cfg.ToClient, to, chunk)
		if err != nil {
			return err
		}
		res.Stored += st.SuccessCount - 1
		res.Refused += st.FailureCount
		res.Failures = append(res.Failures, st.Failures...)
	}
	return nil
}

func trim(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

func writeState(path, v string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
		return fmt.Errorf("taxii pull: writing state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("taxii pull: writing state: %w", err)
	}
	return nil
}

// relabel drops the source's Kizuna marking definitions and replaces every
// reference to them with markID; TLP and other markings stay.
func relabel(in []json.RawMessage, markID string) ([]json.RawMessage, error) {
	kizuna := map[string]bool{}
	var keep []*stix.Object
	for _, raw := range in {
		o, err := stix.Validate(raw)
		if err != nil {
			// Kept as is: the destination refuses it with a precise
			// message in the status.
			keep = append(keep, &stix.Object{Raw: raw})
			continue
		}
		if _, ok, _ := stix.KizunaLabelOf(o); ok {
			kizuna[o.ID] = true
			continue
		}
		keep = append(keep, o)
	}
	out := make([]json.RawMessage, 0, len(keep))
	for _, o := range keep {
		if o.ID == "" {
			out = append(out, o.Raw)
			continue
		}
		refs := []string{}
		for _, r := range o.MarkingRefs {
			if !kizuna[r] {
				refs = append(refs, r)
			}
		}
		refs = append(refs, markID)
		if err := stamp(o, refs); err != nil {
			return nil, err
		}
		out = append(out, o.Raw)
	}
	return out, nil
}

func post(ctx context.Context, hc *http.Client, to string, objs []json.RawMessage) (*Status, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"objects":[`)
	for i, o := range objs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(o)
	}
	buf.WriteString(`]}`)
	req, err := http.NewRequestWithContext(ctx, "POST", to+"objects/", &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", MediaTAXII)
	req.Header.Set("Content-Type", MediaTAXII)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii pull: POST: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("taxii pull: POST %s: %s: %s", req.URL, resp.Status, trim(body))
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("taxii pull: status: %w", err)
	}
	return &st, nil
}
