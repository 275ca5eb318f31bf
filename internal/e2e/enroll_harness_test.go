package e2e

import (
	"path/filepath"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/users"
)

// sakuraUsers writes a users file in sp's directory holding one user,
// sakura (JPN, SECRET, with role), and returns its path. The bcrypt cost
// is the minimum: the enrollment tests are about the flow, not the hash.
func sakuraUsers(t *testing.T, sp *secPKI, role, password string) string {
	t.Helper()
	usersFile := filepath.Join(sp.dir, "users.json")
	us, err := users.Open(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	us.SetCost(4)
	if err := us.Add(users.User{Name: "sakura", Nation: "JPN", Clearance: label.Secret, Role: role}, password); err != nil {
		t.Fatal(err)
	}
	return usersFile
}
