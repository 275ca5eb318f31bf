package label

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseClassification(t *testing.T) {
	tests := []struct {
		in   string
		want Classification
		ok   bool
	}{
		{"UNCLASSIFIED", Unclassified, true},
		{"u", Unclassified, true},
		{"Unclas", Unclassified, true},
		{"CONFIDENTIAL", Confidential, true},
		{"C", Confidential, true},
		{" secret ", Secret, true},
		{"S", Secret, true},
		{"TOP SECRET", TopSecret, true},
		{"top_secret", TopSecret, true},
		{"TOPSECRET", TopSecret, true},
		{"TOP-SECRET", TopSecret, true},
		{"TS", TopSecret, true},
		{"", Invalid, false},
		{"RESTRICTED", Invalid, false},
		{"SECRET//NOFORN", Invalid, false},
		{"TOP  SECRET", Invalid, false},
	}
	for _, tc := range tests {
		got, err := ParseClassification(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseClassification(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrClassification) {
			t.Errorf("ParseClassification(%q) error %v is not ErrClassification", tc.in, err)
		}
	}
	// Order, names and text round trip.
	for c := Unclassified; c <= TopSecret; c++ {
		if c > Unclassified && !(c > c-1) {
			t.Errorf("%v not above %v", c, c-1)
		}
		var back Classification
		txt, _ := c.MarshalText()
		if err := back.UnmarshalText(txt); err != nil || back != c {
			t.Errorf("text round trip of %v: %v, %v", c, back, err)
		}
		if p, err := ParseClassification(c.Abbrev()); err != nil || p != c {
			t.Errorf("abbreviation %q of %v parses to %v, %v", c.Abbrev(), c, p, err)
		}
	}
	if Invalid.String() != "INVALID" || Invalid.Valid() || Classification(9).Valid() || Classification(9).String() != "INVALID" || Invalid.Abbrev() != "?" {
		t.Error("invalid classifications must not look valid")
	}
	var c Classification
	if err := c.UnmarshalText([]byte("bogus")); err == nil || c != Invalid {
		t.Errorf("UnmarshalText(bogus) = %v, %v", c, err)
	}
}

func TestParseReleasableTo(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"JPN KOR USA", []string{"JPN", "KOR", "USA"}, false},
		{"USA,JPN", []string{"JPN", "USA"}, false},
		{" usa , jpn\tkor\n", []string{"JPN", "KOR", "USA"}, false},
		{"JPN JPN jpn", []string{"JPN"}, false},
		{"", nil, false},
		{" , ", nil, false},
		{"JPN US", nil, true},
		{"JAPAN", nil, true},
		{"JP1", nil, true},
		{"ÉTA", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseReleasableTo(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseReleasableTo(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrNation) {
			t.Errorf("ParseReleasableTo(%q) error %v is not ErrNation", tc.in, err)
		}
	}
}

func TestParsePrincipal(t *testing.T) {
	tests := []struct {
		in   string
		want Principal
		err  bool
	}{
		{"JPN:SECRET", Principal{Nation: "JPN", Clearance: Secret}, false},
		{"usa:ts", Principal{Nation: "USA", Clearance: TopSecret}, false},
		{"KOR:TOP SECRET", Principal{Nation: "KOR", Clearance: TopSecret}, false},
		{"JPN:S:NOFORN", Principal{Nation: "JPN", Clearance: Secret, Caveats: "NOFORN"}, false},
		{"JPN:SECRET:noforn/FOUO", Principal{Nation: "JPN", Clearance: Secret, Caveats: "FOUO/NOFORN"}, false},
		{"JPN:SECRET:", Principal{}, true},
		{"JPN:SECRET:EYES", Principal{}, true},
		{"JPN:SECRET:NOFORN:X", Principal{}, true},
		{"KOR", Principal{}, true},
		{"KOREA:S", Principal{}, true},
		{"KOR:SEKRET", Principal{}, true},
		{":S", Principal{}, true},
		{"", Principal{}, true},
	}
	for _, tc := range tests {
		got, err := ParsePrincipal(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePrincipal(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	p := Principal{Nation: "JPN", Clearance: Secret, Name: "VIPER 1"}
	if p.String() != "VIPER 1@JPN:SECRET" || !p.Valid() {
		t.Errorf("%v valid %v", p, p.Valid())
	}
	if (Principal{Nation: "JPN"}).Valid() || (Principal{Clearance: Secret}).Valid() {
		t.Error("incomplete principal is valid")
	}
}

func lbl(c Classification, orig string, rel ...string) Label {
	return Label{Classification: c, Originator: orig, ReleasableTo: rel}
}

func TestReleasable(t *testing.T) {
	jpnS := Principal{Nation: "JPN", Clearance: Secret}
	tests := []struct {
		name string
		p    Principal
		l    Label
		want bool
	}{
		// Clearance against classification.
		{"clearance equal", jpnS, lbl(Secret, "JPN"), true},
		{"clearance above", jpnS, lbl(Confidential, "JPN"), true},
		{"clearance below", jpnS, lbl(TopSecret, "JPN"), false},
		{"unclassified to top secret holder", Principal{Nation: "JPN", Clearance: TopSecret}, lbl(Unclassified, "JPN"), true},
		{"confidential holder, secret data", Principal{Nation: "JPN", Clearance: Confidential}, lbl(Secret, "JPN", "JPN"), false},
		// Originator and releasability.
		{"own nation, not listed", jpnS, lbl(Secret, "JPN", "USA"), true},
		{"listed", jpnS, lbl(Secret, "USA", "JPN", "KOR"), true},
		{"not listed", jpnS, lbl(Secret, "USA", "KOR"), false},
		{"originator only", jpnS, lbl(Unclassified, "USA"), false},
		{"listed but not cleared", jpnS, lbl(TopSecret, "USA", "JPN"), false},
		{"case matters", jpnS, lbl(Secret, "USA", "jpn"), false},
		// Invalid or empty: deny.
		{"zero label", jpnS, Label{}, false},
		{"invalid classification", jpnS, lbl(Invalid, "JPN", "JPN"), false},
		{"out of range classification", jpnS, lbl(Classification(7), "JPN", "JPN"), false},
		{"no originator", jpnS, lbl(Secret, "", "JPN"), false},
		{"zero principal", Principal{}, lbl(Unclassified, "JPN", "JPN"), false},
		{"principal without nation", Principal{Clearance: TopSecret}, lbl(Unclassified, "", ""), false},
		{"principal without clearance", Principal{Nation: "JPN"}, lbl(Unclassified, "JPN"), false},
		{"principal with invalid clearance", Principal{Nation: "JPN", Clearance: Classification(200)}, lbl(Unclassified, "JPN"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Releasable(tc.p, tc.l); got != tc.want {
				t.Errorf("Releasable(%v, %+v) = %v, want %v", tc.p, tc.l, got, tc.want)
			}
		})
	}
}

func TestDefaultAndCheckSubmit(t *testing.T) {
	kor := Principal{Nation: "KOR", Clearance: Confidential}
	d := Default(kor)
	if d.Classification != Confidential || d.Originator != "KOR" || !slices.Equal(d.ReleasableTo, []string{"KOR"}) || !d.Valid() {
		t.Errorf("Default = %+v", d)
	}
	if !Releasable(kor, d) || Releasable(Principal{Nation: "JPN", Clearance: TopSecret}, d) {
		t.Error("default label must reach the submitter's nation only")
	}
	if err := CheckSubmit(kor, lbl(Secret, "KOR")); !errors.Is(err, ErrAboveClearance) {
		t.Errorf("CheckSubmit above clearance: %v", err)
	}
	for _, c := range []Classification{Unclassified, Confidential} {
		if err := CheckSubmit(kor, lbl(c, "KOR")); err != nil {
			t.Errorf("CheckSubmit(%v): %v", c, err)
		}
	}
}

// everyone is a set of principals that covers every nation in the tests
// at every clearance.
func everyone() []Principal {
	var out []Principal
	for _, n := range []string{"USA", "JPN", "KOR", "AUS", "GBR"} {
		for c := Unclassified; c <= TopSecret; c++ {
			out = append(out, Principal{Nation: n, Clearance: c})
		}
	}
	return out
}

func TestCombine(t *testing.T) {
	tests := []struct {
		name       string
		originator string
		in         []Label
		want       Label
		noOne      bool
	}{
		{
			name:       "highest classification, intersection of releasabilities",
			originator: "JPN",
			in:         []Label{lbl(Secret, "USA", "JPN", "KOR"), lbl(Confidential, "KOR", "JPN", "USA")},
			want:       Label{Classification: Secret, Originator: "JPN", ReleasableTo: []string{"JPN", "KOR", "USA"}},
		},
		{
			name:       "originator counts for its own source",
			originator: "JPN",
			in:         []Label{lbl(Unclassified, "JPN", "USA"), lbl(Secret, "USA", "JPN")},
			want:       Label{Classification: Secret, Originator: "JPN", ReleasableTo: []string{"JPN", "USA"}},
		},
		{
			name:       "narrowing",
			originator: "USA",
			in:         []Label{lbl(Secret, "USA", "JPN", "KOR"), lbl(Secret, "USA", "KOR")},
			want:       Label{Classification: Secret, Originator: "USA", ReleasableTo: []string{"KOR", "USA"}},
		},
		{
			name:       "caveats joined",
			originator: "USA",
			in:         []Label{{Classification: Secret, Originator: "USA", Caveat: "NOFORN"}, {Classification: Secret, Originator: "USA", Caveat: "FOUO"}, {Classification: Secret, Originator: "USA", Caveat: "FOUO"}},
			want:       Label{Classification: Secret, Originator: "USA", ReleasableTo: []string{"USA"}, Caveat: "FOUO/NOFORN"},
		},
		{
			name:       "originator outside the intersection: released to no one",
			originator: "USA",
			in:         []Label{lbl(Secret, "JPN", "KOR"), lbl(Secret, "KOR", "JPN")},
			noOne:      true,
		},
		{
			name:       "disjoint sources: released to no one",
			originator: "USA",
			in:         []Label{lbl(Secret, "JPN"), lbl(Secret, "KOR")},
			noOne:      true,
		},
		{
			name:       "an invalid source poisons the result",
			originator: "USA",
			in:         []Label{lbl(Secret, "USA", "JPN"), lbl(Invalid, "USA", "JPN")},
			noOne:      true,
		},
		{
			name:       "an invalid first source poisons the result",
			originator: "USA",
			in:         []Label{lbl(Invalid, "USA", "JPN"), lbl(Secret, "USA", "JPN")},
			noOne:      true,
		},
		{
			name:       "an out-of-range source poisons the result",
			originator: "USA",
			in:         []Label{lbl(Classification(9), "USA", "JPN"), lbl(Unclassified, "USA", "JPN")},
			noOne:      true,
		},
		{
			name:       "a source without originator poisons the result",
			originator: "USA",
			in:         []Label{lbl(Secret, "USA", "JPN"), lbl(Unclassified, "", "USA", "JPN")},
			noOne:      true,
		},
		{
			name:       "nothing to combine",
			originator: "USA",
			noOne:      true,
		},
		{
			name:       "single source",
			originator: "KOR",
			in:         []Label{lbl(Confidential, "KOR", "USA")},
			want:       Label{Classification: Confidential, Originator: "KOR", ReleasableTo: []string{"KOR", "USA"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Combine(tc.originator, tc.in...)
			if !tc.noOne {
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("Combine (-want +got):\n%s", d)
				}
			}
			for _, p := range everyone() {
				ok := Releasable(p, got)
				if tc.noOne && ok {
					t.Errorf("%v may see %+v, want no one", p, got)
				}
				// Whoever may see the fused data may see every source.
				if ok {
					for _, l := range tc.in {
						if !Releasable(p, l) {
							t.Errorf("%v may see the combination %+v but not the source %+v", p, got, l)
						}
					}
				}
			}
		})
	}
}

func TestMarking(t *testing.T) {
	tests := []struct {
		l    Label
		want string
	}{
		{lbl(Secret, "USA", "JPN"), "SECRET//REL TO JPN, USA"},
		{lbl(TopSecret, "USA", "JPN", "KOR", "USA"), "TOP SECRET//REL TO JPN, KOR, USA"},
		{lbl(Confidential, "KOR"), "CONFIDENTIAL//KOR ONLY"},
		{lbl(Confidential, "KOR", "KOR"), "CONFIDENTIAL//KOR ONLY"},
		{Label{Classification: Secret, Originator: "USA", Caveat: "NOFORN"}, "SECRET//NOFORN//USA ONLY"},
		{Label{Classification: Unclassified, Originator: "JPN", Caveat: "FOUO", ReleasableTo: []string{"KOR"}}, "UNCLASSIFIED//FOUO//REL TO JPN, KOR"},
		{Label{Classification: Secret}, "SECRET"},
		{Label{}, "INVALID"},
	}
	for _, tc := range tests {
		if got := tc.l.Marking(); got != tc.want {
			t.Errorf("Marking(%+v) = %q, want %q", tc.l, got, tc.want)
		}
	}
	l := lbl(Secret, "USA", "KOR", "JPN")
	if l.Marking(); !slices.Equal(l.ReleasableTo, []string{"KOR", "JPN"}) {
		t.Errorf("Marking changed the label: %v", l.ReleasableTo)
	}
	if l.ReleasableString() != "KOR JPN" {
		t.Errorf("ReleasableString = %q", l.ReleasableString())
	}
}

func TestLabelEqualAndValid(t *testing.T) {
	a := Label{Classification: Secret, Originator: "USA", ReleasableTo: []string{"JPN"}, Caveat: "X"}
	b := a
	b.ReleasableTo = []string{"JPN"}
	if !a.Equal(b) || !a.Valid() {
		t.Errorf("equal labels: %v, valid %v", a.Equal(b), a.Valid())
	}
	for _, m := range []func(*Label){
		func(l *Label) { l.Classification = TopSecret },
		func(l *Label) { l.Originator = "JPN" },
		func(l *Label) { l.ReleasableTo = []string{"KOR"} },
		func(l *Label) { l.Caveat = "" },
	} {
		c := a
		c.ReleasableTo = slices.Clone(a.ReleasableTo)
		m(&c)
		if a.Equal(c) {
			t.Errorf("%+v equals %+v", a, c)
		}
	}
	if (Label{Classification: Secret, Originator: "usa"}).Valid() || (Label{Originator: "USA"}).Valid() {
		t.Error("invalid label is valid")
	}
}

func TestClassificationLevel(t *testing.T) {
	for _, tt := range []struct {
		c    Classification
		want int
	}{{Invalid, 0}, {Unclassified, 1}, {Confidential, 2}, {Secret, 3}, {TopSecret, 4}, {Classification(9), 0}} {
		if got := tt.c.Level(); got != tt.want {
			t.Errorf("%v.Level() = %d, want %d", tt.c, got, tt.want)
		}
	}
}

func TestCheckChoice(t *testing.T) {
	holder := Principal{Nation: "JPN", Clearance: Secret, Caveats: "FOUO/NOFORN"}
	plain := Principal{Nation: "JPN", Clearance: Secret}
	own := func(c Classification, cav string, rel ...string) Label {
		return Label{Classification: c, Originator: "JPN", ReleasableTo: rel, Caveat: cav}
	}
	tests := []struct {
		name string
		p    Principal
		l    Label
		want error
	}{
		{"plain label", plain, own(Secret, "", "KOR"), nil},
		{"caveat held", holder, own(Confidential, "NOFORN", "KOR"), nil},
		{"two caveats held", holder, own(Secret, "FOUO/NOFORN"), nil},
		{"caveat of none held", plain, own(Secret, "FOUO"), ErrCaveatNotHeld},
		{"one of two not held", holder, own(Secret, "NOFORN/ORCON"), ErrCaveatNotHeld},
		{"unknown caveat", holder, own(Secret, "EYES"), ErrCaveatNotHeld},
		{"above clearance", holder, own(TopSecret, "FOUO"), ErrAboveClearance},
		{"not releasable to itself", holder, Label{Classification: Secret, Originator: "USA", ReleasableTo: []string{"KOR"}}, ErrNotReleasable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckChoice(tc.p, tc.l)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("CheckChoice = %v, want %v", err, tc.want)
			}
		})
	}
}
