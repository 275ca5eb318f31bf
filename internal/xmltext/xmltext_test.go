package xmltext

import (
	"bytes"
	"errors"
	"testing"
)

func TestAppendUnescaped(t *testing.T) {
	tests := []struct {
		name, in, want string
		ref            string // the RefError.Ref expected; "-" for none
		bad            bool
	}{
		{"plain", "abc", "abc", "-", false},
		{"predefined", "&lt;&gt;&amp;&quot;&apos;", `<>&"'`, "-", false},
		{"decimal", "&#65;&#10;", "A\n", "-", false},
		{"hex", "&#x41;&#x10FFFF;", "A\U0010FFFF", "-", false},
		{"undefined", "a&xxe;b", "", "xxe", true},
		{"surrogate", "&#xD800;", "", "#xD800", true},
		{"zero", "&#0;", "", "#0", true},
		{"unterminated", "a&lt", "", "", true},
		{"too long", "&#00000000000065;", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendUnescaped([]byte("x"), []byte(tt.in))
			cerr := CheckRefs([]byte(tt.in))
			if (err != nil) != (cerr != nil) {
				t.Fatalf("AppendUnescaped err %v, CheckRefs err %v", err, cerr)
			}
			if !tt.bad {
				if err != nil || string(got) != "x"+tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, "x"+tt.want)
				}
				return
			}
			var re *RefError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RefError", err)
			}
			if string(re.Ref) != tt.ref {
				t.Fatalf("Ref = %q, want %q", re.Ref, tt.ref)
			}
		})
	}
}

func TestAppendEscaped(t *testing.T) {
	in := "a&<>\"'\n\r\t\x01b"
	want := "a&amp;&lt;&gt;&quot;&apos;&#10;&#13;&#9;b"
	if got := string(AppendEscaped(nil, in)); got != want {
		t.Fatalf("string: got %q, want %q", got, want)
	}
	if got := string(AppendEscaped(nil, []byte(in))); got != want {
		t.Fatalf("bytes: got %q, want %q", got, want)
	}
}

// FuzzRoundTrip checks that escaping then unescaping gives back the input
// less the control characters XML cannot carry, and that CheckRefs accepts
// exactly what AppendUnescaped resolves.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a&b", "&lt;", "&#x41;", "&xxe;", "\x00\t\n", "\xff&#;"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want []byte
		for _, c := range b {
			if c >= 0x20 || c == '\t' || c == '\n' || c == '\r' {
				want = append(want, c)
			}
		}
		got, err := AppendUnescaped(nil, AppendEscaped(nil, b))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip of %q: got %q, %v", b, got, err)
		}
		_, uerr := AppendUnescaped(nil, b)
		if cerr := CheckRefs(b); (uerr != nil) != (cerr != nil) {
			t.Fatalf("%q: AppendUnescaped err %v, CheckRefs err %v", b, uerr, cerr)
		}
	})
}
