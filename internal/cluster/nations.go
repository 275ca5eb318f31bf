package cluster

import (
	"slices"
	"strconv"
	"strings"

	"kizuna/internal/label"
)

// Release tokens: filtering by nation as well as by level.
//
// When the node lists its nations (Config.Nations, the same ordered list
// on every instance), an event's subject ends with one token per listed
// nation and one for all others:
//
//	PREFIX.ev.LEVEL.ORIGINATOR.R1.R2…Rk.RO
//
// Ri is 1 when label.Releasable lets a client of the i-th nation, at the
// highest clearance, see the event (its originator's nation included),
// else 0; RO is 1 when the label names any nation outside the list. A
// subject filter can then say "releasable to JPN" (a 1 in JPN's place, *
// elsewhere). An instance whose clients belong to the nations Serve
// consumes, for each of them in list order, the filter "1 in this
// nation's place, 0 in the places of the Serve nations before it":
// the filters are disjoint (JetStream before 2.10 has one filter per
// consumer, and overlapping consumers would deliver an event twice) and
// together take exactly the events releasable to some nation it serves.
// The label check at egress is unchanged; the tokens only spare an
// instance traffic none of its clients may see.

// releaseTokens returns ".R1….Rk.RO" for l.
func releaseTokens(nations []string, l label.Label) string {
	var b strings.Builder
	for _, n := range nations {
		if label.Releasable(label.Principal{Nation: n, Clearance: label.TopSecret}, l) {
			b.WriteString(".1")
		} else {
			b.WriteString(".0")
		}
	}
	other := "0"
	for _, n := range append([]string{l.Originator}, l.ReleasableTo...) {
		if !slices.Contains(nations, n) {
			other = "1"
		}
	}
	b.WriteString("." + other)
	return b.String()
}

// nationFilters returns the disjoint filters of an instance cleared to
// top whose clients belong to serve (nil: any nation, all tokens).
func nationFilters(subject string, top label.Classification, nations, serve []string) []string {
	var levels []string
	if lv := level(top); lv >= 4 || lv == 0 {
		levels = []string{"*"}
	} else {
		for i := 1; i <= lv; i++ {
			levels = append(levels, strconv.Itoa(i))
		}
	}
	if serve == nil {
		var f []string
		for _, lv := range levels {
			f = append(f, subject+".ev."+lv+".>")
		}
		return f
	}
	// Places of the served nations, in list order; k is "other".
	k := len(nations)
	var places []int
	for i, n := range nations {
		if slices.Contains(serve, n) {
			places = append(places, i)
		}
	}
	for _, n := range serve {
		if !slices.Contains(nations, n) {
			places = append(places, k)
			break
		}
	}
	var f []string
	for _, lv := range levels {
		for j, p := range places {
			tok := make([]string, k+1)
			for i := range tok {
				tok[i] = "*"
			}
			for _, q := range places[:j] {
				tok[q] = "0"
			}
			tok[p] = "1"
			f = append(f, subject+".ev."+lv+".*."+strings.Join(tok, "."))
		}
	}
	return f
}
