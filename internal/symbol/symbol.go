// Package symbol owns the mapping from a Cursor-on-Target type to a
// MIL-STD-2525B/C letter symbol identification code (SIDC), the 15-character
// code that map renderers such as milsymbol draw.
//
// A CoT atom type ("a-f-G-U-C-I") is built like a 2525 SIDC: the second field
// is the affiliation, the third the battle dimension and the rest the
// function, one letter per field. The SIDC is "S", the affiliation, the
// dimension, "P" (present), the function letters padded to six, then
// modifier, country and order-of-battle positions left as "-". For example
// a-f-G-U-C-I maps to SFGPUCI-------- and a-h-S-C-L-D-D to SHSPCLDD-------.
//
// Map points (b-m-p-…) and launch and impact detections (b-d-l, b-d-i) map
// to 2525C tactical point graphics. Every other CoT type (chat, tasking,
// drawings, control messages) has no symbol and maps to the empty string; a
// renderer draws those with a plain marker.
package symbol

import "strings"

// Length is the length of every SIDC this package returns.
const Length = 15

// affiliations maps a CoT affiliation letter to the 2525 affiliation letter.
// CoT "o" (none specified) and "x" (other) have no 2525 frame of their own
// and are drawn as unknown.
var affiliations = map[byte]byte{
	'p': 'P', // pending
	'u': 'U', // unknown
	'a': 'A', // assumed friend
	'f': 'F', // friend
	'n': 'N', // neutral
	's': 'S', // suspect
	'h': 'H', // hostile
	'j': 'J', // joker
	'k': 'K', // faker
	'o': 'U', // none specified
	'x': 'U', // other
}

// affiliationNames names each 2525 affiliation letter for Affiliation.
var affiliationNames = map[byte]string{
	'P': "pending",
	'U': "unknown",
	'A': "assumed-friend",
	'F': "friend",
	'N': "neutral",
	'S': "suspect",
	'H': "hostile",
	'J': "joker",
	'K': "faker",
}

// dimensions holds the CoT battle dimensions, which are also the 2525 ones:
// space, air, ground, sea surface, subsurface, special operations forces and
// other.
const dimensions = "PAGSUFX"

// maxFunction is the width of the function field, positions 5 to 10.
const maxFunction = 6

// SIDC returns the 15-character MIL-STD-2525B/C letter SIDC for a CoT type,
// or "" when the type is not something a unit symbol stands for.
//
// Odd input falls back to the most specific valid symbol: an unknown
// affiliation letter becomes unknown (U), a missing or unknown dimension
// becomes Z (unknown dimension), and the function stops at the first field
// that is not a single capital letter or digit (CoT's lower-case fields are
// refinements 2525 does not have) or at six letters, which keeps its valid
// parent because 2525 functions are hierarchical.
func SIDC(cotType string) string {
	fields := strings.Split(strings.TrimSpace(cotType), "-")
	switch fields[0] {
	case "a":
		return atom(fields[1:])
	case "b":
		if len(fields) >= 3 && fields[1] == "m" && fields[2] == "p" {
			return mapPoint(fields[3:])
		}
		if len(fields) >= 3 && fields[1] == "d" {
			// A detection's origin is not known: unknown affiliation.
			switch fields[2] {
			case "l":
				return "GUGPGPWM-------" // launch: missile detect point
			case "i":
				return "GUGPGPWI-------" // impact point
			}
		}
	}
	return ""
}

// atom maps the fields after "a-".
func atom(fields []string) string {
	var b [Length]byte
	for i := range b {
		b[i] = '-'
	}
	b[0] = 'S'
	b[1] = 'U'
	b[2] = 'Z'
	b[3] = 'P'
	if len(fields) > 0 && len(fields[0]) == 1 {
		if a, ok := affiliations[fields[0][0]]; ok {
			b[1] = a
		}
	}
	if len(fields) < 2 || len(fields[1]) != 1 || !strings.ContainsRune(dimensions, rune(fields[1][0])) {
		return string(b[:])
	}
	dim := fields[1][0]
	b[2] = dim
	n := 0
	for _, f := range fields[2:] {
		if n == maxFunction || len(f) != 1 || !isFunctionChar(f[0]) {
			break
		}
		b[4+n] = f[0]
		n++
	}
	if dim == 'G' && n > 0 && b[4] == 'I' {
		// 2525B marks ground installations with "H" in position 11.
		b[10] = 'H'
	}
	return string(b[:])
}

// mapPoint maps the fields after "b-m-p-" to a 2525C tactical point graphic.
// Map points carry no affiliation, so they are drawn as friendly graphics
// (the user's own).
func mapPoint(fields []string) string {
	fn := "GPR" // reference point
	switch {
	case len(fields) > 0 && fields[0] == "w":
		fn = "GPRW" // waypoint
	case len(fields) > 0 && fields[0] == "c":
		fn = "GPOW" // route checkpoint
	case len(fields) > 0 && fields[0] == "s":
		fn = "GPRI" // spot / sensor point of interest
	}
	return "GFGP" + fn + strings.Repeat("-", Length-4-len(fn))
}

// Affiliation names the affiliation a CoT atom type declares: "friend",
// "hostile", "neutral", "unknown", "pending", "assumed-friend", "suspect",
// "joker" or "faker". It returns "" for a type that is not an atom (a-…).
func Affiliation(cotType string) string {
	t := strings.TrimSpace(cotType)
	if len(t) < 1 || t[0] != 'a' || (len(t) > 1 && t[1] != '-') {
		return ""
	}
	return affiliationNames[SIDC(t)[1]]
}

func isFunctionChar(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
