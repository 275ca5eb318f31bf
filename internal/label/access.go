package label

import (
	"errors"
	"fmt"
	"strings"
)

// ErrForeignMarking means an access value names a classification system
// Kizuna does not hold (NATO markings, a bare RESTRICTED): mapping it onto a
// national level would either widen or silently change its meaning, so the
// event is refused with this reason.
var ErrForeignMarking = errors.New("access marking of a classification system Kizuna does not hold")

// AccessValues is the table of every access value the public ATAK-CIV
// sources can write (CotEvent.setAccess documents the set; "Undefined" is
// what CotEvent writes when no marking was chosen and the default of the
// mapitem.access and geochat.access preferences), with what Kizuna makes
// of it. Matching is case-insensitive and ignores surrounding spaces.
// The README's security model reproduces it.
var AccessValues = []AccessValue{
	{Value: "", Meaning: "no marking: the submitter's default label"},
	{Value: "Undefined", Meaning: "no marking: the submitter's default label"},
	{Value: "Unclassified", Class: Unclassified, Meaning: "UNCLASSIFIED"},
	{Value: "Confidential", Class: Confidential, Meaning: "CONFIDENTIAL"},
	{Value: "Secret", Class: Secret, Meaning: "SECRET"},
	{Value: "Top Secret", Class: TopSecret, Meaning: "TOP SECRET"},
	{Value: "NATO Unclassified", Refused: true, Meaning: "refused: NATO marking"},
	{Value: "NATO Restricted", Refused: true, Meaning: "refused: NATO marking"},
	{Value: "NATO Confidential", Refused: true, Meaning: "refused: NATO marking"},
	{Value: "NATO Secret", Refused: true, Meaning: "refused: NATO marking"},
	{Value: "Restricted", Refused: true, Meaning: "refused: no national RESTRICTED level"},
}

// AccessValue is one row of AccessValues.
type AccessValue struct {
	Value   string
	Class   Classification // Invalid for "no marking" and refusals
	Refused bool
	Meaning string
}

// ParseAccess reads the CoT access attribute as fielded TAK clients write
// it. marked is false when the value means "no marking given" (empty, or
// "Undefined" in any case): the caller then treats the event exactly as
// one without the attribute. Otherwise it returns the classification, or
// an error wrapping ErrForeignMarking or ErrClassification.
func ParseAccess(s string) (c Classification, marked bool, err error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.EqualFold(t, "Undefined") {
		return Invalid, false, nil
	}
	u := strings.ToUpper(t)
	if strings.HasPrefix(u, "NATO ") || strings.HasPrefix(u, "NATO_") || u == "RESTRICTED" || u == "R" {
		return Invalid, true, fmt.Errorf("%w: %q", ErrForeignMarking, s)
	}
	c, err = ParseClassification(t)
	return c, true, err
}
