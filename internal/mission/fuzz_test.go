package mission

import (
	"net/url"
	"strings"
	"testing"

	"kizuna/internal/label"
)

func FuzzParseContents(f *testing.F) {
	for _, s := range []string{`{"uids":["a","b"],"hashes":["` + strings.Repeat("a", 64) + `"]}`, `{}`, `{"uids":[""]}`, `[`, `{"uids":["\u0001"]}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseContents(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(c.UIDs)+len(c.Hashes) > maxItems {
			t.Fatalf("%d items accepted", len(c.UIDs)+len(c.Hashes))
		}
		for _, u := range c.UIDs {
			if u == "" || len(u) > 256 {
				t.Fatalf("uid %q accepted", u)
			}
		}
	})
}

func FuzzQueryLabel(f *testing.F) {
	for _, s := range []string{"access=SECRET&releasableTo=KOR", "access=Undefined", "releasableTo=KOR", "access=SECRET&caveat=NOFORN", "access=TOP%20SECRET&releasableTo=JPN,KOR", ""} {
		f.Add(s)
	}
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		req, err := QueryLabel(q)
		if err != nil {
			return
		}
		l, err := LabelFor(p, req)
		if err != nil {
			return
		}
		// Whatever was asked, the label is the submitter's own, within its
		// clearance, and releases to its nation.
		if l.Originator != "JPN" || l.Classification > label.Secret || !label.Releasable(p, l) {
			t.Fatalf("%q gave %+v", s, l)
		}
	})
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"op", "logs", "a/b", "", " x ", "<x>", strings.Repeat("n", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := CheckName(s)
		if err != nil {
			return
		}
		if n == "" || len(n) > 128 || strings.ContainsAny(n, "/<>&\"\\") {
			t.Fatalf("%q accepted as %q", s, n)
		}
	})
}
