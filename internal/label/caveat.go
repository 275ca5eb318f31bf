package label

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Caveats Kizuna gives a meaning to. A caveat travels in the CoT caveat
// attribute (TAK protobuf field 16); several are separated by "/".
// Releasability to other nations ("REL TO") is not a caveat: it is the
// releasableTo list.
const (
	// NoForn (NOFORN, "not releasable to foreign nationals") withholds the
	// object from every nation but its originator, whatever releasableTo
	// says.
	NoForn = "NOFORN"
	// OrCon (ORCON, "originator controlled") releases the object as its
	// label says, but no one but the originator may release it further in
	// combined data: a combination made by another nation is released to
	// no one.
	OrCon = "ORCON"
	// FOUO ("for official use only") is a handling marking: it is carried
	// and shown in the banner and restricts release no further than the
	// label does.
	FOUO = "FOUO"
)

// KnownCaveats lists every caveat Kizuna accepts, with its meaning.
var KnownCaveats = map[string]string{
	NoForn: "withheld from every nation but the originator, whatever releasableTo says",
	FOUO:   "handling only: shown in the banner, no restriction beyond the label",
	OrCon:  "only the originator may release it further: data combined from it by another nation is released to no one",
}

// ErrCaveat is returned for a caveat Kizuna does not know.
var ErrCaveat = errors.New("unknown caveat")

// ParseCaveat checks and normalises a caveat attribute: upper case, the
// known caveats sorted and joined by "/". Separators "/", "," and spaces
// are accepted. An unknown caveat is an error, never carried without
// meaning.
func ParseCaveat(s string) (string, error) {
	if s == "" || s == NoForn || s == OrCon || s == FOUO {
		return s, nil
	}
	fields := strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r == '/' || r == ',' || r == ' ' || r == '\t' })
	for _, f := range fields {
		if _, ok := KnownCaveats[f]; !ok {
			return "", fmt.Errorf("%w: %q", ErrCaveat, f)
		}
	}
	slices.Sort(fields)
	return strings.Join(slices.Compact(fields), "/"), nil
}

// caveatRule reports how a label's caveat restricts release: known is
// false when it holds a caveat Kizuna does not know (release nothing), and
// noforn when it holds NOFORN.
func caveatRule(c string) (known, noforn, orcon bool) {
	switch c {
	case "":
		return true, false, false
	case NoForn:
		return true, true, false
	case OrCon:
		return true, false, true
	case FOUO:
		return true, false, false
	}
	for c != "" {
		var f string
		f, c, _ = strings.Cut(c, "/")
		switch f {
		case NoForn:
			noforn = true
		case OrCon:
			orcon = true
		case FOUO:
		default:
			return false, false, false
		}
	}
	return true, noforn, orcon
}

// splitCaveats returns the single caveats of c.
func splitCaveats(c string) []string {
	if c == "" {
		return nil
	}
	return strings.Split(c, "/")
}
