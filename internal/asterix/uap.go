package asterix

import "fmt"

// ruleKind is the length rule of an ASTERIX data item (or compound subfield).
type ruleKind uint8

const (
	// ruleSpare marks an FSPEC slot or compound subfield that is not
	// defined: its presence bit must never be set.
	ruleSpare ruleKind = iota
	// ruleFixed: exactly n octets.
	ruleFixed
	// ruleExtended: octets whose least significant bit (FX) says whether
	// another octet follows. All extended items in CAT048 and CAT062 have
	// one-octet parts.
	ruleExtended
	// ruleRepetitive: a one-octet repetition factor REP, then REP elements
	// of n octets each.
	ruleRepetitive
	// ruleRepetitiveFX: elements of n octets each; the least significant
	// bit of an element's last octet (FX) says whether another follows.
	ruleRepetitiveFX
	// ruleExplicit: a one-octet length that counts itself, then the data.
	ruleExplicit
	// ruleCompound: a primary subfield (FX-extended bit field, seven
	// presence bits per octet) followed by the selected subfields in order.
	ruleCompound
)

// rule is the length rule of an item or subfield.
type rule struct {
	kind ruleKind
	n    int    // octets for fixed, element octets for repetitive
	subs []rule // compound subfields in primary-subfield bit order
}

// itemDef names one UAP slot and its length rule.
type itemDef struct {
	id   string // "010", "RE", "SP"; "" for a spare slot
	rule rule
}

// uap is a User Application Profile: index i describes FRN i+1.
type uap []itemDef

func fixed(n int) rule        { return rule{kind: ruleFixed, n: n} }
func extended() rule          { return rule{kind: ruleExtended, n: 1} }
func repetitive(n int) rule   { return rule{kind: ruleRepetitive, n: n} }
func repetitiveFX(n int) rule { return rule{kind: ruleRepetitiveFX, n: n} }
func explicit() rule          { return rule{kind: ruleExplicit} }
func compound(subs ...rule) rule {
	return rule{kind: ruleCompound, subs: subs}
}

var spare = rule{kind: ruleSpare}

// maxExtOctets bounds FX chains (FSPECs, extended items, compound primary
// subfields, FX repetitions) so a hostile run of FX bits cannot make the
// decoder walk far beyond any real item definition.
const maxExtOctets = 16

// itemLen returns the length in octets of the item or subfield that starts
// at b[0] and follows r. It never reads outside b.
func itemLen(r rule, b []byte) (int, error) {
	switch r.kind {
	case ruleFixed:
		if len(b) < r.n {
			return 0, fmt.Errorf("fixed item of %d octets, %d left: %w", r.n, len(b), ErrTruncated)
		}
		return r.n, nil
	case ruleExtended:
		for i := 0; i < len(b); i++ {
			if b[i]&1 == 0 {
				return i + 1, nil
			}
			if i+1 >= maxExtOctets {
				return 0, fmt.Errorf("extended item longer than %d octets: %w", maxExtOctets, ErrMalformed)
			}
		}
		return 0, fmt.Errorf("extended item: %w", ErrTruncated)
	case ruleRepetitive:
		if len(b) < 1 {
			return 0, fmt.Errorf("repetitive item: missing REP: %w", ErrTruncated)
		}
		rep := int(b[0])
		if rep == 0 {
			return 0, fmt.Errorf("repetitive item with REP 0: %w", ErrBadLength)
		}
		n := 1 + rep*r.n
		if len(b) < n {
			return 0, fmt.Errorf("repetitive item of %d×%d octets, %d left: %w", rep, r.n, len(b)-1, ErrTruncated)
		}
		return n, nil
	case ruleRepetitiveFX:
		for off := 0; ; off += r.n {
			if len(b)-off < r.n {
				return 0, fmt.Errorf("FX-repetitive item: %w", ErrTruncated)
			}
			if b[off+r.n-1]&1 == 0 {
				return off + r.n, nil
			}
			if off/r.n+1 >= 255 {
				return 0, fmt.Errorf("FX-repetitive item with more than 255 elements: %w", ErrMalformed)
			}
		}
	case ruleExplicit:
		if len(b) < 1 {
			return 0, fmt.Errorf("explicit item: missing length: %w", ErrTruncated)
		}
		n := int(b[0])
		if n == 0 {
			return 0, fmt.Errorf("explicit item with length 0: %w", ErrBadLength)
		}
		if len(b) < n {
			return 0, fmt.Errorf("explicit item of %d octets, %d left: %w", n, len(b), ErrTruncated)
		}
		return n, nil
	case ruleCompound:
		n, err := walkCompound(r.subs, b, nil)
		return n, err
	}
	return 0, fmt.Errorf("spare slot: %w", ErrUnknownItem)
}

// walkCompound walks a compound item starting at b[0]. For every subfield
// present it calls fn (if not nil) with the subfield's index and octets. It
// returns the compound item's total length.
func walkCompound(subs []rule, b []byte, fn func(idx int, sub []byte)) (int, error) {
	// The primary subfield.
	plen := 0
	for {
		if plen >= len(b) {
			return 0, fmt.Errorf("compound primary subfield: %w", ErrTruncated)
		}
		plen++
		if b[plen-1]&1 == 0 {
			break
		}
		if plen >= maxExtOctets {
			return 0, fmt.Errorf("compound primary subfield longer than %d octets: %w", maxExtOctets, ErrMalformed)
		}
	}
	off := plen
	for i := 0; i < plen; i++ {
		for bit := 0; bit < 7; bit++ {
			if b[i]&(0x80>>bit) == 0 {
				continue
			}
			idx := i*7 + bit
			if idx >= len(subs) || subs[idx].kind == ruleSpare {
				return 0, fmt.Errorf("compound subfield #%d: %w", idx+1, ErrUnknownItem)
			}
			n, err := itemLen(subs[idx], b[off:])
			if err != nil {
				return 0, fmt.Errorf("compound subfield #%d: %w", idx+1, err)
			}
			if fn != nil {
				fn(idx, b[off:off+n])
			}
			off += n
		}
	}
	return off, nil
}

// The CAT048 UAP (edition 1.32; slots and lengths identical back to 1.21).
var uap048 = uap{
	{"010", fixed(2)},
	{"140", fixed(3)},
	{"020", extended()},
	{"040", fixed(4)},
	{"070", fixed(2)},
	{"090", fixed(2)},
	{"130", compound(fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1))}, // SRL SRR SAM PRL PAM RPD APD
	{"220", fixed(3)},
	{"240", fixed(6)},
	{"250", repetitive(8)},
	{"161", fixed(2)},
	{"042", fixed(4)},
	{"200", fixed(4)},
	{"170", extended()},
	{"210", fixed(4)},
	{"030", repetitiveFX(1)},
	{"080", fixed(2)},
	{"100", fixed(4)},
	{"110", fixed(2)},
	{"120", compound(fixed(2), repetitive(6))}, // CAL RDS
	{"230", fixed(2)},
	{"260", fixed(7)},
	{"055", fixed(1)},
	{"050", fixed(2)},
	{"065", fixed(1)},
	{"060", fixed(2)},
	{"SP", explicit()},
	{"RE", explicit()},
}

// The CAT062 UAP (edition 1.21; slots and lengths identical back to 1.16).
var uap062 = uap{
	{"010", fixed(2)},
	{"", spare},
	{"015", fixed(1)},
	{"070", fixed(3)},
	{"105", fixed(8)},
	{"100", fixed(6)},
	{"185", fixed(4)},
	{"210", fixed(2)},
	{"060", fixed(2)},
	{"245", fixed(7)},
	{"380", compound(
		fixed(3), fixed(6), fixed(2), fixed(2), fixed(2), fixed(2), fixed(2), // ADR ID MHG IAS TAS SAL FSS
		extended(), repetitive(15), fixed(2), fixed(2), fixed(7), fixed(2), fixed(2), // TIS TID COM SAB ACS BVR GVR
		fixed(2), fixed(2), fixed(2), fixed(2), fixed(1), fixed(8), fixed(1), // RAN TAR TAN GS VUN MET EMC
		fixed(6), fixed(2), fixed(1), repetitive(8), fixed(2), fixed(2), fixed(2), // POS GAL PUN MB IAR MAC BPS
	)},
	{"040", fixed(2)},
	{"080", extended()},
	{"290", compound(
		fixed(1), fixed(1), fixed(1), fixed(1), fixed(2), fixed(1), fixed(1), // TRK PSR SSR MDS ADS ES VDL
		fixed(1), fixed(1), fixed(1), // UAT LOP MLT
	)},
	{"200", fixed(1)},
	{"295", compound(
		fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), // MFL MD1 MD2 MDA MD4 MD5 MHG
		fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), // IAS TAS SAL FSS TID COM SAB
		fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), // ACS BVR GVR RAN TAR TAN GSP
		fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), // VUN MET EMC POS GAL PUN MB
		fixed(1), fixed(1), fixed(1), // IAR MAC BPS
	)},
	{"136", fixed(2)},
	{"130", fixed(2)},
	{"135", fixed(2)},
	{"220", fixed(2)},
	{"390", compound(
		fixed(2), fixed(7), fixed(4), fixed(1), fixed(4), fixed(1), fixed(4), // TAG CSN IFI FCT TAC WTC DEP
		fixed(4), fixed(3), fixed(2), fixed(2), repetitive(4), fixed(6), fixed(1), // DST RDS CFL CTL TOD AST STS
		fixed(7), fixed(7), fixed(2), fixed(7), // STD STA PEM PEC
	)},
	{"270", extended()},
	{"300", fixed(1)},
	{"110", compound(fixed(1), fixed(4), fixed(6), fixed(2), fixed(2), fixed(1), fixed(1))}, // SUM PMN POS GA EM1 TOS XP
	{"120", fixed(2)},
	{"510", repetitiveFX(3)},
	{"500", compound(fixed(4), fixed(2), fixed(4), fixed(1), fixed(1), fixed(2), fixed(2), fixed(1))}, // APC COV APW AGA ABA ATV AA ARC
	{"340", compound(fixed(2), fixed(4), fixed(2), fixed(2), fixed(2), fixed(1))},                     // SID POS HEIGHT MDC MDA TYP
	{"", spare},
	{"", spare},
	{"", spare},
	{"", spare},
	{"", spare},
	{"RE", explicit()},
	{"SP", explicit()},
}

// FRNs (field reference numbers) of the items this package interprets.
const (
	frn048Source       = 1  // I048/010
	frn048TimeOfDay    = 2  // I048/140
	frn048Descriptor   = 3  // I048/020
	frn048Polar        = 4  // I048/040
	frn048Mode3A       = 5  // I048/070
	frn048FlightLevel  = 6  // I048/090
	frn048Address      = 8  // I048/220
	frn048Callsign     = 9  // I048/240
	frn048TrackNumber  = 11 // I048/161
	frn048Velocity     = 13 // I048/200
	frn048TrackStatus  = 14 // I048/170
	frn062Source       = 1  // I062/010
	frn062Service      = 3  // I062/015
	frn062TimeOfDay    = 4  // I062/070
	frn062WGS84        = 5  // I062/105
	frn062Cartesian    = 6  // I062/100
	frn062Velocity     = 7  // I062/185
	frn062Mode3A       = 9  // I062/060
	frn062Aircraft     = 11 // I062/380
	frn062TrackNumber  = 12 // I062/040
	frn062TrackStatus  = 13 // I062/080
	frn062FlightLevel  = 17 // I062/136
	frn062GeoAltitude  = 18 // I062/130
	frn062BaroAltitude = 19 // I062/135
	frn062ClimbRate    = 20 // I062/220

	sub380Address  = 0 // I062/380 subfield #1 ADR
	sub380Callsign = 1 // I062/380 subfield #2 ID
)
