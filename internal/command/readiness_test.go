package command

import (
	"context"
	"errors"
	"testing"

	"kizuna/internal/label"
)

// fakeReadiness is sustainment readiness per unit.
type fakeReadiness map[string]SustainLevels

func (f fakeReadiness) UnitLevels(_ label.Principal, unit string) (SustainLevels, bool) {
	l, ok := f[unit]
	return l, ok
}

// TestReadinessReportStructured: a READINESS report carries the four
// resource levels and the C-level (the worst); equipment and supply come
// from sustainment when it has the unit and its label may go with the
// report, from the unit otherwise; a report missing a level is refused.
func TestReadinessReportStructured(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	usaOnly := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "USA"}
	h.s.cfg.Readiness = fakeReadiness{
		"12mlr": {Equipment: 2, Supply: 3, Colour: "AMBER", Reasons: []string{"munitions at 50% of required load"}, Label: usaOnly},
		"31meu": {Equipment: 1, Supply: 1, Colour: "GREEN", Label: label.Label{Classification: label.TopSecret, ReleasableTo: []string{"USA"}, Originator: "USA"}},
	}
	// Computed from sustainment: personnel and training stated.
	o := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Text: "Report readiness", DeadlineIn: "1h"})
	got, err := h.s.ReportWith(ctx, usa, "12mlr", o.ID, "readiness", "", &ReadinessLevels{Personnel: 1, Training: 2, Equipment: 1, Supply: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := got.Reports[0].Readiness
	if r == nil || r.Source != "sustainment" || r.Equipment != 2 || r.Supply != 3 || r.Personnel != 1 || r.Training != 2 || r.C != 3 || r.Colour != "AMBER" {
		t.Fatalf("readiness %+v", r)
	}
	if got.Reports[0].Text != "C3 (P1 R2 S3 T2)" || got.State != Complete {
		t.Fatalf("report %+v state %s", got.Reports[0], got.State)
	}
	// Sustainment's TOP SECRET figures may not go with a SECRET report:
	// the unit's own levels are used.
	o = mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "31meu", Type: "REPORT", Text: "Report readiness", DeadlineIn: "1h"})
	if _, err := h.s.ReportWith(ctx, usa, "31meu", o.ID, "READINESS", "", &ReadinessLevels{Personnel: 1, Training: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("report without equipment and supply: %v", err)
	}
	got, err = h.s.ReportWith(ctx, usa, "31meu", o.ID, "READINESS", "embarked", &ReadinessLevels{Personnel: 1, Training: 1, Equipment: 2, Supply: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Reports[0].Readiness; r.Source != "reported" || r.C != 2 || got.Reports[0].Text != "C2 (P1 R2 S1 T1) embarked" {
		t.Fatalf("reported readiness %+v %q", r, got.Reports[0].Text)
	}
	// Levels out of range are refused.
	o = mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Text: "Report readiness", DeadlineIn: "1h"})
	if _, err := h.s.ReportWith(ctx, usa, "12mlr", o.ID, "READINESS", "", &ReadinessLevels{Personnel: 5, Training: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("P5: %v", err)
	}
	// From the TAK device, the levels are written in the text.
	h.run(t)
	h.s.ObserveFrom(chatReply(t, "ANDROID-12MLR-1", "12MLR-1", "usfj", "USFJ", "READINESS "+o.ID+" P2 T1 ready"), usa, Sender{UID: "ANDROID-12MLR-1", Callsign: "12MLR-1"})
	eventually(t, "READINESS over TAK", func() bool { x, _ := h.s.Order(usa, o.ID); return x.State == Complete && len(x.Reports) == 1 })
	x, _ := h.s.Order(usa, o.ID)
	if r := x.Reports[0].Readiness; r == nil || r.C != 3 || r.Personnel != 2 || r.Source != "sustainment" {
		t.Fatalf("TAK readiness %+v", r)
	}
}
