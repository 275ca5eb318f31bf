package users

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Enrollment tokens: single-use, expiring secrets an operator issues for
// one user (kizuna users token), which a TAK client presents as
// "Authorization: Bearer TOKEN" to enroll for a certificate instead of a
// password (ATAK 5 token/QR enrollment). The file keeps only the SHA-256 of
// each token, never the token itself.

// Sentinel errors for tokens.
var (
	ErrTokenUnknown = errors.New("unknown enrollment token")
	ErrTokenUsed    = errors.New("enrollment token already used")
	ErrTokenExpired = errors.New("enrollment token expired")
)

// MaxTokenTTL is the longest validity of a token.
const MaxTokenTTL = 30 * 24 * time.Hour

// tokenPrefix marks Kizuna enrollment tokens.
const tokenPrefix = "kzt_"

// Token is the stored record of one enrollment token.
type Token struct {
	// ID is the first 12 hex digits of the token's hash: it names the
	// token in audit records and listings.
	ID      string    `json:"id"`
	Hash    string    `json:"sha256"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"`
	UsedBy  string    `json:"usedBy,omitempty"`
}

type tokenFile struct {
	Version int     `json:"version"`
	Tokens  []Token `json:"tokens"`
}

// Tokens is the enrollment token file. It is safe for concurrent use and
// for use by several processes (the node and the kizuna users command).
type Tokens struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// TokensPath is where the tokens of a users file live: beside it.
func TokensPath(usersPath string) string {
	return filepath.Join(filepath.Dir(usersPath), "enroll-tokens.json")
}

// OpenTokens returns the token file at path (created on the first Issue).
func OpenTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path, now: time.Now}
	if _, err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

// SetClock replaces the clock (tests).
func (t *Tokens) SetClock(now func() time.Time) { t.now = now }

func (t *Tokens) load() ([]Token, error) {
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var f tokenFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("%w: %s: version %d, %v", ErrFile, t.path, f.Version, err)
	}
	return f.Tokens, nil
}

// update runs f on the tokens under the file lock and saves the result.
func (t *Tokens) update(f func([]Token) ([]Token, error)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	unlock, err := lockPath(t.path)
	if err != nil {
		return fmt.Errorf("locking tokens file: %w", err)
	}
	defer unlock()
	toks, err := t.load()
	if err != nil {
		return err
	}
	next, err := f(toks)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(tokenFile{Version: 1, Tokens: next}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(t.path, append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	tf, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	tmp := tf.Name()
	defer os.Remove(tmp)
	err = tf.Chmod(0o600)
	if err == nil {
		_, err = tf.Write(b)
	}
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	return nil
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Issue makes a new token for user, valid for ttl (at most MaxTokenTTL).
// The token is returned once and only its hash is kept. Used and expired
// tokens older than a day are dropped from the file.
func (t *Tokens) Issue(user string, ttl time.Duration) (string, Token, error) {
	if err := ValidateName(user); err != nil {
		return "", Token{}, err
	}
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", Token{}, fmt.Errorf("token validity %s: must be within (0, %s]", ttl, MaxTokenTTL)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := hashToken(tok)
	now := t.now().UTC().Truncate(time.Second)
	rec := Token{ID: h[:12], Hash: h, User: user, Created: now, Expires: now.Add(ttl)}
	err := t.update(func(toks []Token) ([]Token, error) {
		toks = slices.DeleteFunc(toks, func(x Token) bool {
			return (!x.Used.IsZero() || now.After(x.Expires)) && now.Sub(x.Expires) > 24*time.Hour && now.Sub(x.Used) > 24*time.Hour
		})
		return append(toks, rec), nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return tok, rec, nil
}

// LooksLikeToken reports whether s has the shape of a Kizuna token.
func LooksLikeToken(s string) bool { return strings.HasPrefix(s, tokenPrefix) && len(s) < 128 }

// find returns the record of tok in toks, comparing hashes in constant time.
func find(toks []Token, tok string) (int, bool) {
	h := hashToken(tok)
	for i, x := range toks {
		if subtle.ConstantTimeCompare([]byte(x.Hash), []byte(h)) == 1 {
			return i, true
		}
	}
	return -1, false
}

func (t *Tokens) check(x Token) error {
	switch {
	case !x.Used.IsZero():
		return fmt.Errorf("%w: token %s used %s", ErrTokenUsed, x.ID, x.Used.Format(time.RFC3339))
	case !t.now().Before(x.Expires):
		return fmt.Errorf("%w: token %s expired %s", ErrTokenExpired, x.ID, x.Expires.Format(time.RFC3339))
	}
	return nil
}

// Check returns the token's record if it is known, unused and unexpired,
// without using it up (the configuration request before the CSR).
func (t *Tokens) Check(tok string) (Token, error) {
	t.mu.Lock()
	toks, err := t.load()
	t.mu.Unlock()
	if err != nil {
		return Token{}, err
	}
	i, ok := find(toks, tok)
	if !ok {
		return Token{}, ErrTokenUnknown
	}
	return toks[i], t.check(toks[i])
}

// Consume uses the token up, under the file lock, so that it can never
// serve twice, even across processes. usedBy notes who used it.
func (t *Tokens) Consume(tok, usedBy string) (Token, error) {
	var rec Token
	var cerr error
	err := t.update(func(toks []Token) ([]Token, error) {
		i, ok := find(toks, tok)
		if !ok {
			cerr = ErrTokenUnknown
			return toks, nil
		}
		rec = toks[i]
		if cerr = t.check(rec); cerr != nil {
			return toks, nil
		}
		rec.Used = t.now().UTC()
		rec.UsedBy = usedBy
		toks[i] = rec
		return toks, nil
	})
	if err != nil {
		return Token{}, err
	}
	return rec, cerr
}

// List returns every token record (hashes only), newest first.
func (t *Tokens) List() ([]Token, error) {
	t.mu.Lock()
	toks, err := t.load()
	t.mu.Unlock()
	slices.SortFunc(toks, func(a, b Token) int { return b.Created.Compare(a.Created) })
	return toks, err
}
