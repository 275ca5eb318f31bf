// Package users owns the node's users file: the accounts that may enroll
// for a client certificate with a user name and password. Each record holds
// a bcrypt hash of the password and the identity the certificate will carry
// (nation, clearance, role), so that enrollment never trusts what a client
// asks for. The file is JSON, written atomically with mode 0600, and re-read
// when another process (the kizuna users command) changes it.
package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"kizuna/internal/label"
)

// Cost is the bcrypt cost of new password hashes.
const Cost = 11

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// Roles a user may have ("" for none).
var Roles = []string{"operator", "commander", "admin"}

// Sentinel errors callers branch on.
var (
	ErrExists         = errors.New("user already exists")
	ErrNotFound       = errors.New("no such user")
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrPassword       = errors.New("unacceptable password")
	ErrName           = errors.New("invalid user name")
	ErrRole           = errors.New("unknown role")
	ErrFile           = errors.New("invalid users file")
)

// User is one account.
type User struct {
	Name      string               `json:"name"`
	Hash      string               `json:"bcrypt"`
	Nation    string               `json:"nation"`
	Clearance label.Classification `json:"clearance"`
	Role      string               `json:"role,omitempty"`
	Created   time.Time            `json:"created"`
}

// Principal is the principal a certificate issued to u names.
func (u User) Principal() label.Principal {
	return label.Principal{Nation: u.Nation, Clearance: u.Clearance, Name: u.Name, Role: u.Role}
}

type file struct {
	Version int    `json:"version"`
	Users   []User `json:"users"`
}

// Store is the users file. It is safe for concurrent use.
type Store struct {
	path string
	cost int

	dummyOnce sync.Once
	dummy     []byte

	mu    sync.Mutex
	users map[string]User
	mod   time.Time
	size  int64
}

// Open reads the users file at path; a missing file is an empty store
// (created on the first Add).
func Open(path string) (*Store, error) {
	s := &Store{path: path, cost: Cost, users: map[string]User{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetCost sets the bcrypt cost of hashes made from now on (default Cost).
// Lower costs are for tests only.
func (s *Store) SetCost(cost int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cost = min(max(cost, bcrypt.MinCost), bcrypt.MaxCost)
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) load() error {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.users, s.mod, s.size = map[string]User{}, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFile, s.path, err)
	}
	if f.Version != 1 {
		return fmt.Errorf("%w: %s: version %d (want 1)", ErrFile, s.path, f.Version)
	}
	m := make(map[string]User, len(f.Users))
	for i, u := range f.Users {
		if err := checkUser(u); err != nil {
			return fmt.Errorf("%w: %s: user %d: %v", ErrFile, s.path, i+1, err)
		}
		if _, dup := m[u.Name]; dup {
			return fmt.Errorf("%w: %s: user %q twice", ErrFile, s.path, u.Name)
		}
		m[u.Name] = u
	}
	s.users, s.mod, s.size = m, fi.ModTime(), fi.Size()
	return nil
}

// refresh re-reads the file if it changed on disk. Caller holds mu.
func (s *Store) refresh() error {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		if len(s.users) > 0 || !s.mod.IsZero() {
			s.users, s.mod, s.size = map[string]User{}, time.Time{}, 0
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if fi.ModTime().Equal(s.mod) && fi.Size() == s.size {
		return nil
	}
	return s.load()
}

func checkUser(u User) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if _, err := label.ParseNation(u.Nation); err != nil || u.Nation != strings.ToUpper(u.Nation) {
		return fmt.Errorf("nation %q: %w", u.Nation, label.ErrNation)
	}
	if !u.Clearance.Valid() {
		return fmt.Errorf("clearance: %w", label.ErrClassification)
	}
	if u.Role != "" && !slices.Contains(Roles, u.Role) {
		return fmt.Errorf("%w: %q", ErrRole, u.Role)
	}
	if _, err := bcrypt.Cost([]byte(u.Hash)); err != nil {
		return fmt.Errorf("bad bcrypt hash: %v", err)
	}
	return nil
}

// ValidateName checks a user name: 1 to 64 characters, no spaces, control
// characters, colon (it separates name and password in HTTP basic auth) or
// characters that would confuse a certificate subject or a file name.
func ValidateName(n string) error {
	if n == "" || len(n) > 64 || !utf8.ValidString(n) {
		return fmt.Errorf("%w: %q (1 to 64 characters)", ErrName, n)
	}
	for _, r := range n {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`:/\,+;<>="`, r) {
			return fmt.Errorf("%w: %q contains %q", ErrName, n, r)
		}
	}
	return nil
}

// ParseRole accepts "", operator, commander or admin (any case, with or
// without a "role:" prefix).
func ParseRole(r string) (string, error) {
	r = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r), "role:"))
	if r == "" || slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (want operator, commander or admin)", ErrRole, r)
}

// Add creates a user with the given password. u.Hash and u.Created are set
// here.
func (s *Store) Add(u User, password string) error {
	if len(password) < MinPasswordLen {
		return fmt.Errorf("%w: at least %d characters", ErrPassword, MinPasswordLen)
	}
	if len(password) > 72 {
		return fmt.Errorf("%w: at most 72 bytes", ErrPassword)
	}
	n, err := label.ParseNation(u.Nation)
	if err != nil {
		return err
	}
	u.Nation = n
	if u.Role, err = ParseRole(u.Role); err != nil {
		return err
	}
	s.mu.Lock()
	cost := s.cost
	s.mu.Unlock()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	u.Hash = string(h)
	u.Created = time.Now().UTC().Truncate(time.Second)
	if err := checkUser(u); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.load(); err != nil { // under the file lock: always re-read
		return err
	}
	if _, ok := s.users[u.Name]; ok {
		return fmt.Errorf("%w: %q", ErrExists, u.Name)
	}
	next := make(map[string]User, len(s.users)+1)
	for k, v := range s.users {
		next[k] = v
	}
	next[u.Name] = u
	return s.save(next)
}

// Remove deletes a user.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.load(); err != nil { // under the file lock: always re-read
		return err
	}
	if _, ok := s.users[name]; !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	next := make(map[string]User, len(s.users))
	for k, v := range s.users {
		if k != name {
			next[k] = v
		}
	}
	return s.save(next)
}

// Get returns a user (re-reading the file if it changed).
func (s *Store) Get(name string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return User{}, err
	}
	u, ok := s.users[name]
	if !ok {
		return User{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return u, nil
}

// List returns all users sorted by name.
func (s *Store) List() ([]User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return nil, err
	}
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Authenticate checks a user name and password. Any mismatch returns
// ErrBadCredentials, without saying whether the name exists.
func (s *Store) Authenticate(name, password string) (User, error) {
	s.mu.Lock()
	err := s.refresh()
	u, ok := s.users[name]
	cost := s.cost
	s.mu.Unlock()
	if err != nil {
		return User{}, err
	}
	if !ok {
		// Spend as long on an unknown name as on a wrong password.
		s.dummyOnce.Do(func() { s.dummy, _ = bcrypt.GenerateFromPassword([]byte("kizuna-no-such-user"), cost) })
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return User{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

func (s *Store) lockFile() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	unlock, err := lockPath(s.path)
	if err != nil {
		return nil, fmt.Errorf("locking users file: %w", err)
	}
	return unlock, nil
}

// save writes the users atomically (temporary file, fsync, rename) with
// mode 0600 and adopts them. Caller holds mu.
func (s *Store) save(m map[string]User) error {
	f := file{Version: 1}
	for _, u := range m {
		f.Users = append(f.Users, u)
	}
	slices.SortFunc(f.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	tf, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	tmp := tf.Name()
	defer os.Remove(tmp)
	if err := tf.Chmod(0o600); err != nil {
		tf.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if _, err := tf.Write(append(b, '\n')); err != nil {
		tf.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tf.Sync(); err != nil {
		tf.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tf.Close(); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	s.users, s.mod, s.size = m, fi.ModTime(), fi.Size()
	return nil
}
