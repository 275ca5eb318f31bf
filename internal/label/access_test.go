package label

import (
	"errors"
	"testing"
)

func TestParseAccess(t *testing.T) {
	tests := []struct {
		in     string
		want   Classification
		marked bool
		err    error
	}{
		{"", Invalid, false, nil},
		{"   ", Invalid, false, nil},
		{"Undefined", Invalid, false, nil},
		{"UNDEFINED", Invalid, false, nil},
		{" undefined ", Invalid, false, nil},
		{"Unclassified", Unclassified, true, nil},
		{"Confidential", Confidential, true, nil},
		{"Secret", Secret, true, nil},
		{"Top Secret", TopSecret, true, nil},
		{"S", Secret, true, nil},
		{"NATO Unclassified", Invalid, true, ErrForeignMarking},
		{"NATO Restricted", Invalid, true, ErrForeignMarking},
		{"nato secret", Invalid, true, ErrForeignMarking},
		{"Restricted", Invalid, true, ErrForeignMarking},
		{"Cosmic", Invalid, true, ErrClassification},
		{"Undefinedx", Invalid, true, ErrClassification},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, marked, err := ParseAccess(tc.in)
			if c != tc.want || marked != tc.marked || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("ParseAccess(%q) = %v, %v, %v; want %v, %v, %v", tc.in, c, marked, err, tc.want, tc.marked, tc.err)
			}
		})
	}
}

// TestAccessValuesTable: the documented table says what ParseAccess does.
func TestAccessValuesTable(t *testing.T) {
	for _, v := range AccessValues {
		c, marked, err := ParseAccess(v.Value)
		switch {
		case v.Refused:
			if !errors.Is(err, ErrForeignMarking) {
				t.Errorf("%q: documented refused, got %v, %v", v.Value, c, err)
			}
		case v.Class == Invalid:
			if marked || err != nil {
				t.Errorf("%q: documented as no marking, got marked=%v err=%v", v.Value, marked, err)
			}
		default:
			if c != v.Class || err != nil {
				t.Errorf("%q: documented %v, got %v, %v", v.Value, v.Class, c, err)
			}
		}
	}
}

func FuzzParseAccess(f *testing.F) {
	for _, v := range AccessValues {
		f.Add(v.Value)
	}
	f.Add("TS")
	f.Add("uNdEfInEd")
	f.Fuzz(func(t *testing.T, s string) {
		c, marked, err := ParseAccess(s)
		if !marked && (err != nil || c != Invalid) {
			t.Fatalf("unmarked %q with %v, %v", s, c, err)
		}
		if marked && err == nil && !c.Valid() {
			t.Fatalf("marked %q without error but invalid class", s)
		}
		if marked && err != nil && c != Invalid {
			t.Fatalf("%q: error with a class", s)
		}
	})
}
