package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"kizuna/internal/label"
)

// open opens a store with the cheapest bcrypt cost: the race detector
// makes the real cost take seconds per hash.
func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCost(bcrypt.MinCost)
	return s
}

func TestAddAuthenticateRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "users.json")
	s := open(t, path)
	if err := s.Add(User{Name: "viper1", Nation: "jpn", Clearance: label.Secret, Role: "Operator"}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "correct horse") || !strings.Contains(string(b), `"clearance": "SECRET"`) {
		t.Errorf("file content:\n%s", b)
	}
	u, err := s.Authenticate("viper1", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "viper1", Role: "operator"}, u.Principal()); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ name, pw string }{{"viper1", "wrong horse"}, {"nobody", "correct horse"}, {"viper1", ""}} {
		if _, err := s.Authenticate(tc.name, tc.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v", tc.name, tc.pw, err)
		}
	}
	if err := s.Add(User{Name: "viper1", Nation: "JPN", Clearance: label.Secret}, "another one"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	// A second handle (another process) sees changes made by the first.
	s2 := open(t, path)
	if err := s2.Add(User{Name: "eagle", Nation: "USA", Clearance: label.TopSecret}, "bald eagle 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("eagle", "bald eagle 1"); err != nil {
		t.Errorf("first handle did not pick up the change: %v", err)
	}
	if err := s.Remove("viper1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Authenticate("viper1", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed user still authenticates: %v", err)
	}
	list, _ := s2.List()
	if len(list) != 1 || list[0].Name != "eagle" {
		t.Errorf("list %+v", list)
	}
	if err := s.Remove("viper1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}

func TestAddRejects(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "users.json"))
	tests := []struct {
		name string
		u    User
		pw   string
		err  error
	}{
		{"short password", User{Name: "a", Nation: "JPN", Clearance: label.Secret}, "short", ErrPassword},
		{"long password", User{Name: "a", Nation: "JPN", Clearance: label.Secret}, strings.Repeat("x", 73), ErrPassword},
		{"colon in name", User{Name: "a:b", Nation: "JPN", Clearance: label.Secret}, "long enough", ErrName},
		{"space in name", User{Name: "a b", Nation: "JPN", Clearance: label.Secret}, "long enough", ErrName},
		{"bad nation", User{Name: "a", Nation: "JAPAN", Clearance: label.Secret}, "long enough", label.ErrNation},
		{"no clearance", User{Name: "a", Nation: "JPN"}, "long enough", label.ErrClassification},
		{"bad role", User{Name: "a", Nation: "JPN", Clearance: label.Secret, Role: "king"}, "long enough", ErrRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Add(tc.u, tc.pw); !errors.Is(err, tc.err) {
				t.Errorf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestOpenRejectsBadFile(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "nope",
		"wrong version": `{"version":2,"users":[]}`,
		"unknown field": `{"version":1,"users":[],"x":1}`,
		"bad hash":      `{"version":1,"users":[{"name":"a","bcrypt":"plain","nation":"JPN","clearance":"SECRET"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "users.json")
			os.WriteFile(p, []byte(content), 0o600)
			if _, err := Open(p); !errors.Is(err, ErrFile) {
				t.Errorf("err %v, want ErrFile", err)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"version":1,"users":[{"name":"a","bcrypt":"$2a$11$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234","nation":"JPN","clearance":"S"}]}`))
	f.Add([]byte(`{"version":1,"users":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "users.json")
		os.WriteFile(p, data, 0o600)
		s, err := Open(p)
		if err != nil {
			return
		}
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list {
			if !u.Principal().Valid() {
				t.Fatalf("accepted an invalid user %+v", u)
			}
		}
	})
}

func TestConcurrentWritersKeepEveryUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	const n = 12
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			// A separate handle per writer, as separate processes would have.
			s, err := Open(path)
			if err != nil {
				errs <- err
				return
			}
			s.SetCost(bcrypt.MinCost)
			errs <- s.Add(User{Name: "user" + string(rune('a'+i)), Nation: "JPN", Clearance: label.Secret}, "long enough")
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, path)
	list, _ := s.List()
	if len(list) != n {
		t.Fatalf("%d users after %d concurrent adds", len(list), n)
	}
}
