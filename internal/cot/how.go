package cot

// DefaultHow is the how an event that arrived without one gets at ingest,
// so that every copy that leaves the node carries it: "h-g-i-g-o",
// human-entered with no claim on quality, the value TAK Server's own
// messages (pongs, server-generated events) carry. ATAK's parser drops an
// event without how ("Missing or invalid CoT event and/or point
// attributes").
const DefaultHow = "h-g-i-g-o"

// DefaultHowIfMissing sets DefaultHow on an event without how.
func (e *Event) DefaultHowIfMissing() {
	if e.How == "" {
		e.How = DefaultHow
	}
}
