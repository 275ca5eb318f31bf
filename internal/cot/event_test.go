package cot

import (
	"errors"
	"fmt"
	"testing"

	"kizuna/internal/label"
)

func TestParseLabel(t *testing.T) {
	tests := []struct {
		name             string
		access, rel, cav string
		want             label.Label
		present          bool
		err              bool
	}{
		{"none", "", "", "", label.Label{}, false, false},
		{"full", "SECRET", "KOR,JPN", "FOUO", label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Caveat: "FOUO", Originator: "USA"}, true, false},
		{"access only", "C", "", "", label.Label{Classification: label.Confidential, Originator: "USA"}, true, false},
		{"releasableTo without access", "", "JPN", "", label.Label{}, true, true},
		{"caveat without access", "", "", "X", label.Label{}, true, true},
		{"unknown classification", "RESTRICTED", "JPN", "", label.Label{}, true, true},
		{"bad nation", "SECRET", "JAPAN", "", label.Label{}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Event{Access: tc.access, ReleasableTo: tc.rel, Caveat: tc.cav, Origin: Origin{Nation: "USA"}}
			l, present, err := e.ParseLabel()
			if present != tc.present || (err != nil) != tc.err {
				t.Fatalf("ParseLabel = %+v, %v, %v", l, present, err)
			}
			if err != nil {
				if !errors.Is(err, ErrLabel) || Reason(err) != "label" {
					t.Errorf("error %v (reason %q) is not a label error", err, Reason(err))
				}
				return
			}
			if !l.Equal(tc.want) {
				t.Errorf("label %+v, want %+v", l, tc.want)
			}
		})
	}
	// SetLabel writes what ParseLabel reads.
	want := label.Label{Classification: label.TopSecret, ReleasableTo: []string{"AUS", "GBR"}, Caveat: "NOFORN", Originator: "USA"}
	var e Event
	e.SetLabel(want)
	if e.Access != "TOP SECRET" || e.ReleasableTo != "AUS GBR" || e.Origin.Nation != "USA" {
		t.Errorf("SetLabel wrote %+v", e)
	}
	if got, present, err := e.ParseLabel(); err != nil || !present || !got.Equal(want) {
		t.Errorf("ParseLabel after SetLabel = %+v, %v, %v", got, present, err)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrMalformed, "malformed"},
		{fmt.Errorf("event x: %w", ErrDTD), "dtd"},
		{ErrNotEvent, "not_event"},
		{ErrMissingUID, "missing_uid"},
		{ErrMissingType, "missing_type"},
		{ErrMissingPoint, "missing_point"},
		{ErrCoordinates, "coordinates"},
		{ErrTime, "time"},
		{ErrTooLarge, "too_large"},
		{ErrLabel, "label"},
		{label.ErrClassification, "label"},
		{label.ErrNation, "label"},
		{errors.New("other"), "other"},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestEscape(t *testing.T) {
	if got := Escape("a&b<c>d\"e'f\ng\rh\ti\x01j"); got != "a&amp;b&lt;c&gt;d&quot;e&apos;f&#10;g&#13;h&#9;ij" {
		t.Errorf("Escape = %q", got)
	}
}
