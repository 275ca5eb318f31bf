package takproto

import (
	"strconv"
	"time"

	"kizuna/internal/cot"
)

// The control event types of the streaming negotiation.
const (
	TypeOffer    = "t-x-takp-v" // server: the versions it supports
	TypeRequest  = "t-x-takp-q" // client: the version it wants
	TypeResponse = "t-x-takp-r" // server: whether it switches
)

// ProtoUID is the uid of the negotiation events this package writes. The
// protocol asks for a uid used for nothing else.
const ProtoUID = "kizuna-takp"

// controlStale is how long a negotiation event stays valid; a server
// watches for the request for at least a minute.
const controlStale = time.Minute

func control(typ string, now time.Time, detail string) []byte {
	e := cot.Event{
		Version:   "2.0",
		UID:       ProtoUID,
		Type:      typ,
		How:       "m-g",
		Time:      now,
		Start:     now,
		Stale:     now.Add(controlStale),
		Point:     cot.Point{CE: 999999, LE: 999999},
		Detail:    []byte(detail),
		HasDetail: true,
	}
	return e.AppendXML(make([]byte, 0, 320))
}

// Offer returns the XML event a server sends once on a new streaming
// connection to announce TAK Protocol version 1.
func Offer(now time.Time) []byte {
	return control(TypeOffer, now, `<TakControl><TakProtocolSupport version="1"/></TakControl>`)
}

// Request returns the XML event a client sends to ask for version 1.
func Request(now time.Time) []byte {
	return control(TypeRequest, now, `<TakControl><TakRequest version="1"/></TakControl>`)
}

// Response returns the XML event a server sends to accept (ok) or refuse a
// request. After an accepting response both sides speak streaming
// protobuf.
func Response(now time.Time, ok bool) []byte {
	if ok {
		return control(TypeResponse, now, `<TakControl><TakResponse status="true"/></TakControl>`)
	}
	return control(TypeResponse, now, `<TakControl><TakResponse status="false"/></TakControl>`)
}

// RequestedVersion reads the version of a decoded t-x-takp-q event (its
// <TakControl><TakRequest version="…"/>). ok is false for another type, a
// missing element or a version that is not a positive integer.
func RequestedVersion(e *cot.Event) (version int, ok bool) {
	if e == nil || e.Type != TypeRequest {
		return 0, false
	}
	v, found := controlAttr(e.Detail, "TakRequest", "version", nil)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// OfferedVersions returns the versions a decoded t-x-takp-v event offers,
// for clients such as the load generator.
func OfferedVersions(e *cot.Event) []int {
	if e == nil || e.Type != TypeOffer {
		return nil
	}
	var out []int
	controlAttr(e.Detail, "TakProtocolSupport", "version", func(v string) {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			out = append(out, n)
		}
	})
	return out
}

// ResponseStatus reads a decoded t-x-takp-r event: accepted is its
// TakResponse status; ok is false when e is not a well-formed response.
func ResponseStatus(e *cot.Event) (accepted, ok bool) {
	if e == nil || e.Type != TypeResponse {
		return false, false
	}
	v, found := controlAttr(e.Detail, "TakResponse", "status", nil)
	if !found {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// controlAttr finds <TakControl><child attr="…"/></TakControl> in a detail
// and returns the first value of attr; each calls f, when not nil, for
// every child of that name carrying attr.
func controlAttr(detail []byte, child, attr string, each func(string)) (string, bool) {
	var first string
	var found bool
	top := elemScanner{b: detail}
	for {
		tc, ok, err := top.next()
		if err != nil || !ok {
			return first, found
		}
		if string(tc.name) != "TakControl" {
			continue
		}
		in := elemScanner{b: tc.content}
		for {
			el, ok, err := in.next()
			if err != nil || !ok {
				break
			}
			if string(el.name) != child {
				continue
			}
			a := attrScanner{b: el.attrs}
			for {
				n, raw, more, err := a.next()
				if err != nil || !more {
					break
				}
				if string(n) != attr {
					continue
				}
				v, err := appendUnescaped(nil, raw)
				if err != nil {
					break
				}
				if !found {
					first, found = string(v), true
				}
				if each != nil {
					each(string(v))
				}
				break
			}
		}
	}
}
