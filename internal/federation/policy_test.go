package federation

import (
	"testing"

	"kizuna/internal/label"
)

func TestWindow(t *testing.T) {
	w := newWindow()
	for _, s := range []uint64{5, 3, 9} {
		if w.seen(s) {
			t.Fatalf("%d seen before add", s)
		}
		w.add(s)
		if !w.seen(s) {
			t.Fatalf("%d not seen after add", s)
		}
	}
	if w.seen(4) || w.seen(8) || w.seen(10) {
		t.Fatal("unseen numbers reported seen")
	}
	// A jump past the window forgets everything below it as "old" (treated
	// as seen) and keeps exact knowledge inside it.
	w.add(9 + DedupWindow + 10)
	if !w.seen(9) || !w.seen(4) {
		t.Error("numbers below the window must count as seen")
	}
	if w.seen(9 + DedupWindow + 9) {
		t.Error("number inside the window reported seen")
	}
	// Bits cleared when the window slides over stale ones.
	w2 := newWindow()
	w2.add(1)
	w2.add(1 + DedupWindow - 1)
	w2.add(1 + DedupWindow + 1)
	if w2.seen(1 + DedupWindow) {
		t.Error("slot reused without clearing")
	}
}

// TestEgressCheck: the send-time check is the policy function for the
// peer's nation at the link's accreditation, and never back along the path.
func TestEgressCheck(t *testing.T) {
	f := &Federation{}
	body := func(l label.Label, path ...string) []byte {
		return EncodeEventBody(nil, &Event{OriginNode: path[0], OriginSeq: 1, Path: path, Label: l, Payload: []byte("<event/>")})
	}
	jpnUSA := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "JPN"}
	all := label.Label{Classification: label.Confidential, ReleasableTo: []string{"USA", "KOR"}, Originator: "JPN"}
	kor := func(c label.Classification) label.Principal {
		return label.Principal{Nation: "KOR", Clearance: c, Name: "kor-node"}
	}
	tests := []struct {
		name string
		p    label.Principal
		body []byte
		want bool
	}{
		{"USA-JPN only never to KOR", kor(label.TopSecret), body(jpnUSA, "jpn-node", "usa-hub"), false},
		{"releasable at accreditation", kor(label.Confidential), body(all, "jpn-node", "usa-hub"), true},
		{"above accreditation", kor(label.Unclassified), body(all, "jpn-node", "usa-hub"), false},
		{"back along the path", kor(label.Secret), body(all, "kor-node", "usa-hub"), false},
		{"corrupt body", kor(label.Secret), []byte{1, 2, 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := f.releasable(tt.p, tt.body); got != tt.want {
				t.Errorf("releasable = %v, want %v", got, tt.want)
			}
		})
	}
}
