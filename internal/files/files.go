// Package files is the node's labelled file store: the files and mission
// packages TAK clients share "via the server" (Marti sync), addressed by
// the SHA-256 of their content.
//
// Every stored file carries a security label. By default it is the
// uploader's: the uploader's clearance, releasable to the uploader's nation
// only. An uploader may narrow or widen it only within what it may release:
// the originator is always the uploader's nation and the classification
// never exceeds the uploader's clearance. Reading (Stat, Open, List) is the
// same decision as every other egress: label.Releasable. A file the caller
// may not see is indistinguishable from one that does not exist (ErrNotFound
// in both cases), even to a caller who knows its hash.
//
// Content is addressed by hash, so two uploaders may store the same bytes.
// Each upload is a separate entry with its own owner and label; a caller
// sees the file if any entry is releasable to it, and deleting removes only
// the caller's own entries (the bytes go with the last entry). Nobody learns
// from an upload whether someone else already stored the same content.
//
// Layout under Config.Dir: blobs/<sha256> (the content, mode 0600) and
// meta/<sha256>.json (the entries), each written atomically, so files
// survive a restart. Packages built on top (TAK missions) use Put, Stat,
// Open, List and Delete and never touch the directory.
package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"kizuna/internal/label"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no such file, or none the caller may see.
	ErrNotFound = errors.New("file not found")
	// ErrTooLarge: the content exceeds Config.MaxSize.
	ErrTooLarge = errors.New("file too large")
	// ErrHashMismatch: the content's SHA-256 differs from the one claimed.
	ErrHashMismatch = errors.New("content does not match its hash")
	// ErrContentType: a content type the store refuses (active content).
	ErrContentType = errors.New("content type not accepted")
	// ErrLabel: a requested label the uploader may not give.
	ErrLabel = errors.New("label not permitted for this uploader")
	// ErrNotOwner: the caller may see the file but owns no entry of it.
	ErrNotOwner = errors.New("not the owner of this file")
	// ErrBadHash: not a SHA-256 in hex.
	ErrBadHash = errors.New("not a SHA-256 hash")
	// ErrBadName: an unusable file name.
	ErrBadName = errors.New("invalid file name")
	// ErrConfig: an invalid configuration.
	ErrConfig = errors.New("invalid file store configuration")
)

// DefaultMaxSize is the default largest file (TAK Server's default upload
// limit is in this range; mission packages with imagery are tens of MiB).
const DefaultMaxSize = 64 << 20

// Config configures a Store.
type Config struct {
	// Dir is where files are kept (created if missing).
	Dir string
	// MaxSize is the largest accepted file in bytes (default DefaultMaxSize).
	MaxSize int64
	Log     *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Entry is one upload of a file.
type Entry struct {
	Name        string      `json:"name"`
	ContentType string      `json:"contentType"`
	Label       label.Label `json:"label"`
	// Owner identifies the uploader: its nation and name (certificate CN),
	// or nation and clearance for a listener principal.
	Owner      string    `json:"owner"`
	CreatorUID string    `json:"creatorUid,omitempty"`
	Keywords   []string  `json:"keywords,omitempty"`
	Created    time.Time `json:"created"`
}

// Meta describes a file as one caller sees it: the content and the first
// entry releasable to that caller.
type Meta struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
	Entry
}

// PutRequest describes an upload.
type PutRequest struct {
	Name        string
	ContentType string
	// Hash, when set, is the SHA-256 (hex) the uploader claims; the
	// content must match it.
	Hash       string
	CreatorUID string
	Keywords   []string
	// Label, when set, replaces the default label. Its originator is
	// forced to the uploader's nation.
	Label *label.Label
}

type record struct {
	Size    int64   `json:"size"`
	Entries []Entry `json:"entries"`
}

// Store is the file store. It is safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	mu    sync.RWMutex
	index map[string]*record // hash → record
}

// New checks cfg and returns a store; Start loads it.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no directory", ErrConfig)
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	lg := cfg.Log
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, log: lg, index: map[string]*record{}}, nil
}

// MaxSize is the largest file accepted.
func (s *Store) MaxSize() int64 { return s.cfg.MaxSize }

// Start creates the directories and loads the index of stored files.
func (s *Store) Start(ctx context.Context) error {
	for _, d := range []string{s.blobDir(), s.metaDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("file store: %w", err)
		}
	}
	// Uploads and metadata writes a crash interrupted leave temporary
	// files; they are never referenced.
	for _, d := range []string{s.blobDir(), s.metaDir()} {
		if tmps, err := filepath.Glob(filepath.Join(d, ".*-*")); err == nil {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}
	ents, err := os.ReadDir(s.metaDir())
	if err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	idx := map[string]*record{}
	for _, de := range ents {
		hash, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || ValidHash(hash) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.metaDir(), de.Name()))
		if err != nil {
			return fmt.Errorf("file store: %w", err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			s.log.Warn("skipping unreadable file metadata", "hash", hash, "err", err)
			continue
		}
		fi, err := os.Stat(s.blobPath(hash))
		if err != nil || fi.Size() != r.Size || len(r.Entries) == 0 {
			s.log.Warn("skipping file without matching content", "hash", hash)
			continue
		}
		idx[hash] = &r
	}
	s.mu.Lock()
	s.index = idx
	s.mu.Unlock()
	s.log.Info("file store loaded", "files", len(idx))
	return nil
}

// Stop has nothing to flush: every write is durable when Put returns.
func (s *Store) Stop(ctx context.Context) error { return nil }

func (s *Store) blobDir() string             { return filepath.Join(s.cfg.Dir, "blobs") }
func (s *Store) metaDir() string             { return filepath.Join(s.cfg.Dir, "meta") }
func (s *Store) blobPath(hash string) string { return filepath.Join(s.blobDir(), hash) }
func (s *Store) metaPath(hash string) string { return filepath.Join(s.metaDir(), hash+".json") }

// ValidHash checks a SHA-256 in lower-case hex.
func ValidHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("%w: %q", ErrBadHash, h)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: %q", ErrBadHash, h)
		}
	}
	return nil
}

// OwnerOf is the owner string of a principal.
func OwnerOf(p label.Principal) string {
	if p.Name != "" {
		return p.Nation + "/" + p.Name
	}
	return p.Nation + "/" + p.Clearance.String()
}

// refusedTypes are content types the store refuses: active content a
// browser would run if it were ever served inline.
var refusedTypes = []string{
	"text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript",
	"application/javascript", "application/x-javascript", "application/ecmascript", "text/ecmascript",
}

// CheckContentType normalizes a declared content type ("" becomes
// application/octet-stream) and refuses active content.
func CheckContentType(ct string) (string, error) {
	if strings.TrimSpace(ct) == "" {
		return "application/octet-stream", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrContentType, ct)
	}
	if slices.Contains(refusedTypes, mt) {
		return "", fmt.Errorf("%w: %s", ErrContentType, mt)
	}
	delete(params, "charset")
	return mime.FormatMediaType(mt, params), nil
}

// CheckName accepts a plain file name: no path, no control characters,
// at most 255 bytes.
func CheckName(n string) (string, error) {
	n = strings.TrimSpace(n)
	if n == "" || len(n) > 255 || n == "." || n == ".." || strings.ContainsAny(n, "/\\") {
		return "", fmt.Errorf("%w: %q", ErrBadName, n)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: %q", ErrBadName, n)
		}
	}
	return n, nil
}

// labelFor returns the label an upload by p gets.
func labelFor(p label.Principal, req *label.Label) (label.Label, error) {
	if req == nil {
		return label.Default(p), nil
	}
	l := *req
	l.Originator = p.Nation
	if !l.Classification.Valid() {
		return label.Label{}, fmt.Errorf("%w: no classification", ErrLabel)
	}
	if err := label.CheckSubmit(p, l); err != nil {
		return label.Label{}, fmt.Errorf("%w: %v", ErrLabel, err)
	}
	for _, n := range l.ReleasableTo {
		if !label.ValidNation(n) {
			return label.Label{}, fmt.Errorf("%w: nation %q", ErrLabel, n)
		}
	}
	if !slices.Contains(l.ReleasableTo, p.Nation) {
		l.ReleasableTo = append(slices.Clone(l.ReleasableTo), p.Nation)
	}
	slices.Sort(l.ReleasableTo)
	l.ReleasableTo = slices.Compact(l.ReleasableTo)
	return l, nil
}

// Put stores content read from r for principal p. The content is hashed
// while it is written to a temporary file; a claimed hash must match, and
// content over MaxSize is refused. It returns the file as p sees it.
func (s *Store) Put(ctx context.Context, p label.Principal, req PutRequest, r io.Reader) (Meta, error) {
	if !p.Valid() {
		return Meta{}, fmt.Errorf("%w: no valid principal", ErrLabel)
	}
	name, err := CheckName(req.Name)
	if err != nil {
		return Meta{}, err
	}
	ct, err := CheckContentType(req.ContentType)
	if err != nil {
		return Meta{}, err
	}
	if req.Hash != "" {
		req.Hash = strings.ToLower(req.Hash)
		if err := ValidHash(req.Hash); err != nil {
			return Meta{}, err
		}
	}
	l, err := labelFor(p, req.Label)
	if err != nil {
		return Meta{}, err
	}
	tf, err := os.CreateTemp(s.blobDir(), ".upload-*")
	if err != nil {
		return Meta{}, fmt.Errorf("file store: %w", err)
	}
	tmp := tf.Name()
	defer os.Remove(tmp)
	h := sha256.New()
	var head headBytes
	n, err := io.Copy(io.MultiWriter(tf, h, &head), io.LimitReader(r, s.cfg.MaxSize+1))
	if err == nil && n > s.cfg.MaxSize {
		err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, s.cfg.MaxSize)
	}
	if err == nil && isZipType(ct) && !head.isZip() {
		err = fmt.Errorf("%w: declared %s but the content is not a zip", ErrContentType, ct)
	}
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrContentType) {
			return Meta{}, err
		}
		return Meta{}, fmt.Errorf("file store: reading upload: %w", err)
	}
	hash := hex.EncodeToString(h.Sum(nil))
	if req.Hash != "" && req.Hash != hash {
		return Meta{}, fmt.Errorf("%w: claimed %s, content %s", ErrHashMismatch, req.Hash, hash)
	}
	e := Entry{
		Name: name, ContentType: ct, Label: l, Owner: OwnerOf(p), CreatorUID: req.CreatorUID,
		Keywords: req.Keywords, Created: s.cfg.Now().UTC().Truncate(time.Millisecond),
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.index[hash]
	next := record{Size: n}
	if rec != nil {
		next.Entries = slices.Clone(rec.Entries)
	} else if err := os.Rename(tmp, s.blobPath(hash)); err != nil {
		return Meta{}, fmt.Errorf("file store: %w", err)
	}
	// One entry per owner: a new upload by the same owner replaces its
	// earlier entry (name, label).
	next.Entries = slices.DeleteFunc(next.Entries, func(x Entry) bool { return x.Owner == e.Owner })
	next.Entries = append(next.Entries, e)
	if err := s.writeMeta(hash, &next); err != nil {
		if rec == nil {
			os.Remove(s.blobPath(hash))
		}
		return Meta{}, err
	}
	s.index[hash] = &next
	return Meta{Hash: hash, Size: n, Entry: e}, nil
}

func (s *Store) writeMeta(hash string, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tf, err := os.CreateTemp(s.metaDir(), ".meta-*")
	if err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	tmp := tf.Name()
	defer os.Remove(tmp)
	_, err = tf.Write(b)
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.metaPath(hash))
	}
	if err != nil {
		return fmt.Errorf("file store: writing metadata: %w", err)
	}
	return nil
}

// visible returns the first entry of rec releasable to p.
func visible(p label.Principal, rec *record) (Entry, bool) {
	if rec == nil {
		return Entry{}, false
	}
	for _, e := range rec.Entries {
		if label.Releasable(p, e.Label) {
			return e, true
		}
	}
	return Entry{}, false
}

// Stat returns the file with this hash as p sees it, or ErrNotFound when
// it does not exist or is not releasable to p.
func (s *Store) Stat(p label.Principal, hash string) (Meta, error) {
	hash = strings.ToLower(hash)
	if err := ValidHash(hash); err != nil {
		return Meta{}, ErrNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.index[hash]
	e, ok := visible(p, rec)
	if !ok {
		return Meta{}, ErrNotFound
	}
	return Meta{Hash: hash, Size: rec.Size, Entry: e}, nil
}

// Open returns the content of the file with this hash if it is releasable
// to p (ErrNotFound otherwise). The caller closes it.
func (s *Store) Open(p label.Principal, hash string) (*os.File, Meta, error) {
	m, err := s.Stat(p, hash)
	if err != nil {
		return nil, Meta{}, err
	}
	f, err := os.Open(s.blobPath(m.Hash))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Meta{}, ErrNotFound
		}
		return nil, Meta{}, fmt.Errorf("file store: %w", err)
	}
	return f, m, nil
}

// List returns every file p may see, newest first.
func (s *Store) List(p label.Principal) []Meta {
	s.mu.RLock()
	var out []Meta
	for h, rec := range s.index {
		if e, ok := visible(p, rec); ok {
			out = append(out, Meta{Hash: h, Size: rec.Size, Entry: e})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Meta) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	return out
}

// Delete removes p's own entry of the file. A file p may not see is
// ErrNotFound; one it sees but does not own is ErrNotOwner. The content is
// removed with the last entry.
func (s *Store) Delete(p label.Principal, hash string) error {
	hash = strings.ToLower(hash)
	if ValidHash(hash) != nil {
		return ErrNotFound
	}
	owner := OwnerOf(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.index[hash]
	if _, ok := visible(p, rec); !ok {
		return ErrNotFound
	}
	kept := slices.DeleteFunc(slices.Clone(rec.Entries), func(e Entry) bool { return e.Owner == owner })
	if len(kept) == len(rec.Entries) {
		return ErrNotOwner
	}
	if len(kept) == 0 {
		if err := os.Remove(s.metaPath(hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file store: %w", err)
		}
		os.Remove(s.blobPath(hash))
		delete(s.index, hash)
		return nil
	}
	next := &record{Size: rec.Size, Entries: kept}
	if err := s.writeMeta(hash, next); err != nil {
		return err
	}
	s.index[hash] = next
	return nil
}

// headBytes keeps the first four bytes written to it.
type headBytes struct {
	b [4]byte
	n int
}

func (h *headBytes) Write(p []byte) (int, error) {
	if h.n < len(h.b) {
		h.n += copy(h.b[h.n:], p)
	}
	return len(p), nil
}

// isZip reports a local file header or an empty archive's end record.
func (h *headBytes) isZip() bool {
	return h.n == 4 && h.b[0] == 'P' && h.b[1] == 'K' && (h.b[2] == 3 && h.b[3] == 4 || h.b[2] == 5 && h.b[3] == 6)
}

func isZipType(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/zip" || mt == "application/x-zip-compressed" || mt == "application/x-zip"
}
