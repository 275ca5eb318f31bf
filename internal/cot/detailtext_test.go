package cot

import (
	"errors"
	"testing"
)

func TestDetailText(t *testing.T) {
	tests := []struct {
		name, detail, want string
		err                bool
	}{
		{"plain", `<marti><dest callsign="x"/></marti><k>{"a":1}</k>`, `{"a":1}`, false},
		{"escaped", `<k>{&quot;a&quot;:&lt;1}</k>`, `{"a":<1}`, false},
		{"missing", `<other>x</other>`, "", true},
		{"unclosed", `<k>{"a":1}`, "", true},
		{"entity", `<k>&ent;</k>`, "", true},
		{"nested markup is not text", `<k>a<b>c</b></k>`, "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetailText([]byte(tt.detail), "k")
			if (err != nil) != tt.err || string(got) != tt.want {
				t.Fatalf("DetailText = %q, %v; want %q (error %v)", got, err, tt.want, tt.err)
			}
			if tt.name == "missing" && !errors.Is(err, ErrNoElement) {
				t.Fatalf("missing element: %v", err)
			}
		})
	}
}

func FuzzDetailText(f *testing.F) {
	for _, s := range []string{`<k>{"a":1}</k>`, `<k>&amp;</k>`, `<k><k></k>`, `</k><k>`, `<k>]]></k>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		DetailText(b, "k") // must not panic
	})
}
