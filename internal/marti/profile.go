package marti

import (
	"os"
	"path/filepath"
	"strings"

	"kizuna/internal/label"
)

// Profile kinds: the folders under the profile directory.
const (
	ProfileConnection = "connection"
	ProfileEnrollment = "enrollment"
)

// FindProfile returns the device profile (a data package zip) an operator
// put under dir/KIND/ for principal p, the most specific first:
//
//	NATION-ROLE.zip   for example JPN-commander.zip
//	NATION.zip        for example JPN.zip
//	role-ROLE.zip     for example role-operator.zip
//	default.zip
//
// It returns "" when there is none. Nation and role come from the
// principal (the certificate or the listener), never from the request.
func FindProfile(dir, kind string, p label.Principal) string {
	if dir == "" || (kind != ProfileConnection && kind != ProfileEnrollment) {
		return ""
	}
	var names []string
	role := strings.ToLower(p.Role)
	if label.ValidNation(p.Nation) && role != "" && safeRole(role) {
		names = append(names, p.Nation+"-"+role+".zip")
	}
	if label.ValidNation(p.Nation) {
		names = append(names, p.Nation+".zip")
	}
	if role != "" && safeRole(role) {
		names = append(names, "role-"+role+".zip")
	}
	names = append(names, "default.zip")
	for _, n := range names {
		path := filepath.Join(dir, kind, n)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return path
		}
	}
	return ""
}

func safeRole(r string) bool {
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
