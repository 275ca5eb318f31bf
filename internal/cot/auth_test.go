package cot

import (
	"errors"
	"testing"
)

func TestAuthMessage(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		isAuth bool
		want   Auth
		err    error
	}{
		{"atak", `<auth><cot username="sakura" password="pw" uid="ANDROID-1"/></auth>`, true, Auth{Username: "sakura", UID: "ANDROID-1", HasPassword: true}, nil},
		{"no password", `<auth><cot username="u"/></auth>`, true, Auth{Username: "u"}, nil},
		{"empty", `<auth/>`, true, Auth{}, nil},
		{"broken", `<auth><cot username="u"></auth>`, true, Auth{}, ErrMalformed},
		{"event", `<event uid="x"/>`, false, Auth{}, nil},
		{"authority", `<authority/>`, false, Auth{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsAuth([]byte(tc.doc)); got != tc.isAuth {
				t.Fatalf("IsAuth = %v", got)
			}
			if !tc.isAuth {
				return
			}
			a, err := ParseAuth([]byte(tc.doc))
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && a != tc.want {
				t.Errorf("got %+v, want %+v", a, tc.want)
			}
		})
	}
}

func FuzzParseAuth(f *testing.F) {
	f.Add([]byte(`<auth><cot username="sakura" password="pw" uid="ANDROID-1"/></auth>`))
	f.Add([]byte(`<auth/>`))
	f.Add([]byte(`<auth><cot`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if IsAuth(b) {
			ParseAuth(b)
		}
	})
}
