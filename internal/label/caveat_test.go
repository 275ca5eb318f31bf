package label

import (
	"errors"
	"testing"
)

func TestParseCaveat(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"", "", nil},
		{"NOFORN", "NOFORN", nil},
		{"noforn", "NOFORN", nil},
		{"ORCON/NOFORN", "NOFORN/ORCON", nil},
		{"fouo, noforn noforn", "FOUO/NOFORN", nil},
		{"NOFORN/SECRETSAUCE", "", ErrCaveat},
		{"REL TO JPN", "", ErrCaveat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCaveat(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("ParseCaveat(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// TestCaveatRelease: NOFORN withholds from every nation but the
// originator whatever releasableTo says, and an unknown caveat releases
// to no one.
func TestCaveatRelease(t *testing.T) {
	usa := Principal{Nation: "USA", Clearance: TopSecret}
	jpn := Principal{Nation: "JPN", Clearance: TopSecret}
	tests := []struct {
		name     string
		caveat   string
		usa, jpn bool
	}{
		{"none", "", true, true},
		{"NOFORN with releasableTo JPN", "NOFORN", true, false},
		{"NOFORN among others", "FOUO/NOFORN", true, false},
		{"ORCON", "ORCON", true, true},
		{"FOUO", "FOUO", true, true},
		{"unknown", "SPECIAL", false, false},
		{"unknown beside a known one", "NOFORN/SPECIAL", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Label{Classification: Secret, Originator: "USA", ReleasableTo: []string{"JPN", "USA"}, Caveat: tt.caveat}
			if got := Releasable(usa, l); got != tt.usa {
				t.Errorf("USA: %v, want %v", got, tt.usa)
			}
			if got := Releasable(jpn, l); got != tt.jpn {
				t.Errorf("JPN: %v, want %v", got, tt.jpn)
			}
		})
	}
}

// TestCombineCaveats: caveats combine as a union; NOFORN or ORCON data
// combined by another nation, or an unknown caveat, is released to no one.
func TestCombineCaveats(t *testing.T) {
	jpn := Principal{Nation: "JPN", Clearance: TopSecret}
	usa := Principal{Nation: "USA", Clearance: TopSecret}
	rel := []string{"JPN", "USA"}
	tests := []struct {
		name     string
		by       string
		caveats  [2]string
		origins  [2]string
		want     string
		jpn, usa bool
	}{
		{"NOFORN by its originator stays NOFORN", "USA", [2]string{"NOFORN", ""}, [2]string{"USA", "JPN"}, "NOFORN", false, true},
		{"union", "USA", [2]string{"ORCON", "FOUO/NOFORN"}, [2]string{"USA", "USA"}, "FOUO/NOFORN/ORCON", false, true},
		{"NOFORN combined by another nation", "JPN", [2]string{"NOFORN", ""}, [2]string{"USA", "JPN"}, "", false, false},
		{"ORCON combined by another nation", "JPN", [2]string{"", "ORCON"}, [2]string{"JPN", "USA"}, "", false, false},
		{"unknown caveat", "USA", [2]string{"SPECIAL", ""}, [2]string{"USA", "USA"}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Label{Classification: Secret, Originator: tt.origins[0], ReleasableTo: rel, Caveat: tt.caveats[0]}
			b := Label{Classification: Secret, Originator: tt.origins[1], ReleasableTo: rel, Caveat: tt.caveats[1]}
			c := Combine(tt.by, a, b)
			if c.Caveat != tt.want {
				t.Errorf("caveat = %q, want %q", c.Caveat, tt.want)
			}
			if got := Releasable(jpn, c); got != tt.jpn {
				t.Errorf("JPN may see %+v: %v, want %v", c, got, tt.jpn)
			}
			if got := Releasable(usa, c); got != tt.usa {
				t.Errorf("USA may see %+v: %v, want %v", c, got, tt.usa)
			}
		})
	}
}
