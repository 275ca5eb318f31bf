package reject_test

import (
	"errors"
	"fmt"
	"testing"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/reject"
)

// TestEveryReasonListed: every reason the decoder can give is in the one
// list, so none of them escapes counting, audit or the security log.
func TestEveryReasonListed(t *testing.T) {
	for _, err := range []error{cot.ErrMalformed, cot.ErrDTD, cot.ErrNotEvent, cot.ErrMissingUID, cot.ErrMissingType,
		cot.ErrMissingPoint, cot.ErrCoordinates, cot.ErrTime, cot.ErrTooLarge, cot.ErrLabel, label.ErrCaveat,
		label.ErrClassification, label.ErrNation, errors.New("anything else")} {
		r := reject.Reason(cot.Reason(fmt.Errorf("wrapped: %w", err)))
		if _, ok := reject.Lookup(r); !ok {
			t.Errorf("cot.Reason(%v) = %q is not in reject.List", err, r)
		}
	}
	for _, r := range []reject.Reason{"bad_frame", "rate_limited", "too_large"} {
		if _, ok := reject.Lookup(r); !ok {
			t.Errorf("stream reason %q is not in reject.List", r)
		}
	}
}

func TestRejection(t *testing.T) {
	cause := errors.New("cause")
	err := fmt.Errorf("ingest: %w", reject.New(reject.WriteDown, cause))
	if reject.ReasonOf(err) != reject.WriteDown || !errors.Is(err, cause) {
		t.Fatalf("ReasonOf = %q, Is(cause) = %v", reject.ReasonOf(err), errors.Is(err, cause))
	}
	if reject.ReasonOf(cause) != reject.Rejected {
		t.Fatal("an untyped error has a reason")
	}
	for _, r := range []reject.Reason{reject.WriteDown, reject.NotOwner, reject.Caveat, reject.DTD} {
		if !r.Security() || len(r.LogAttrs()) != 3 {
			t.Errorf("%s is not tagged security-relevant: %v", r, r.LogAttrs())
		}
	}
	if reject.Malformed.Security() || len(reject.Malformed.LogAttrs()) != 1 {
		t.Error("malformed input is tagged security-relevant")
	}
}
