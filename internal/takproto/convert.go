package takproto

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kizuna/internal/cot"
	"kizuna/internal/takproto/pb"
	"kizuna/internal/xmltext"
)

// kind numbers the <detail> children that have a typed Detail field.
type kind int

const (
	kContact kind = iota
	kGroup
	kPrecisionLocation
	kStatus
	kTakv
	kTrack
	nKinds
)

// kindAttrs lists each kind's attributes in protobuf field order. Every
// attribute is required except the contact endpoint.
var kindAttrs = [nKinds][]string{
	kContact:           {"endpoint", "callsign"},
	kGroup:             {"name", "role"},
	kPrecisionLocation: {"geopointsrc", "altsrc"},
	kStatus:            {"battery"},
	kTakv:              {"device", "platform", "os", "version"},
	kTrack:             {"speed", "course"},
}

func kindOf(name []byte) (kind, bool) {
	switch string(name) {
	case "contact":
		return kContact, true
	case "__group":
		return kGroup, true
	case "precisionlocation":
		return kPrecisionLocation, true
	case "status":
		return kStatus, true
	case "takv":
		return kTakv, true
	case "track":
		return kTrack, true
	}
	return 0, false
}

// typed is the result of looking for convertible elements in a detail.
type typed struct {
	ok      [nKinds]bool
	seen    [nKinds]uint8
	span    [nKinds][2]int
	val     [nKinds][4][]byte // unescaped attribute values, kindAttrs order
	battery uint32
	speed   float64
	course  float64
}

// analyze finds the elements of detail that convert whole to typed fields:
// top-level, only known attributes with all the required ones, no content,
// and the only element of that name. Values holding references are
// unescaped into *arena, whose spare capacity must be at least len(detail)
// so that it never moves. A detail the scanner cannot follow converts
// nothing.
func analyze(t *typed, detail []byte, arena *[]byte) {
	s := elemScanner{b: detail}
	for {
		el, ok, err := s.next()
		if err != nil {
			*t = typed{}
			return
		}
		if !ok {
			return
		}
		k, known := kindOf(el.name)
		if !known {
			continue
		}
		t.seen[k]++
		if t.seen[k] > 1 {
			t.ok[k] = false
			continue
		}
		t.ok[k] = t.convertible(k, el, arena)
		t.span[k] = [2]int{el.start, el.end}
	}
}

func (t *typed) convertible(k kind, el element, arena *[]byte) bool {
	if len(el.content) != 0 {
		return false
	}
	names := kindAttrs[k]
	var have [4]bool
	a := attrScanner{b: el.attrs}
	for {
		n, raw, more, err := a.next()
		if err != nil {
			return false
		}
		if !more {
			break
		}
		idx := -1
		for i, want := range names {
			if string(n) == want {
				idx = i
				break
			}
		}
		if idx < 0 || have[idx] {
			return false
		}
		have[idx] = true
		v := raw
		if bytes.IndexByte(raw, '&') >= 0 {
			st := len(*arena)
			*arena, err = appendUnescaped(*arena, raw)
			if err != nil {
				return false
			}
			v = (*arena)[st:len(*arena):len(*arena)]
		}
		t.val[k][idx] = v
	}
	for i := range names {
		if !have[i] && !(k == kContact && i == 0) {
			return false
		}
	}
	switch k {
	case kContact:
		// An empty endpoint would not survive: protobuf omits it.
		if have[0] && len(t.val[k][0]) == 0 {
			return false
		}
	case kStatus:
		b, err := strconv.ParseUint(string(t.val[k][0]), 10, 32)
		if err != nil {
			return false
		}
		t.battery = uint32(b)
	case kTrack:
		sp, err1 := strconv.ParseFloat(string(t.val[k][0]), 64)
		co, err2 := strconv.ParseFloat(string(t.val[k][1]), 64)
		if err1 != nil || err2 != nil || math.IsInf(sp, 0) || math.IsNaN(sp) || math.IsInf(co, 0) || math.IsNaN(co) {
			return false
		}
		t.speed, t.course = sp, co
	}
	return true
}

// cuts returns the spans of the converted elements in document order.
func (t *typed) cuts(dst [][2]int) [][2]int {
	for k := range nKinds {
		if t.ok[k] {
			dst = append(dst, t.span[k])
		}
	}
	slices.SortFunc(dst, func(a, b [2]int) int { return a[0] - b[0] })
	return dst
}

// appendXMLDetail appends the xmlDetail text: detail without the converted
// elements, followed by the origin element. Nothing is appended when only
// whitespace would remain.
func appendXMLDetail(dst, detail []byte, cuts [][2]int, o cot.Origin) []byte {
	st := len(dst)
	prev := 0
	for _, c := range cuts {
		dst = append(dst, detail[prev:c[0]]...)
		prev = c[1]
	}
	dst = append(dst, detail[prev:]...)
	if blank(dst[st:]) {
		dst = dst[:st]
	}
	return appendOrigin(dst, o)
}

func blank(b []byte) bool {
	for _, c := range b {
		if !xmltext.IsSpace(c) {
			return false
		}
	}
	return true
}

// appendOrigin appends the server-stamped <__origin/> element, as the cot
// encoder writes it, when o names a nation.
func appendOrigin(dst []byte, o cot.Origin) []byte {
	if o == (cot.Origin{}) {
		return dst
	}
	dst = append(dst, `<__origin nation="`...)
	dst = xmltext.AppendEscaped(dst, o.Nation)
	if o.Node != "" {
		dst = append(dst, `" node="`...)
		dst = xmltext.AppendEscaped(dst, o.Node)
	}
	return append(dst, `"/>`...)
}

func hasDetail(e *cot.Event) bool {
	return e.HasDetail || len(e.Detail) > 0 || e.Origin != (cot.Origin{})
}

// millis converts an event time to protobuf milliseconds; the zero time
// and times before 1970 give 0.
func millis(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// wireFloat maps values XML cannot carry to the CoT "unknown" value, as the
// cot encoder does.
func wireFloat(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cot.Unknown
	}
	return f
}

// FromEvent converts an event to a TakMessage. Detail children that fit a
// typed field whole move there; everything else, and the server-stamped
// <__origin/>, travels in xmlDetail. An event without a start time gets its
// send time, as in XML.
func FromEvent(e *cot.Event) *pb.TakMessage {
	start := e.Start
	if start.IsZero() {
		start = e.Time
	}
	ev := &pb.CotEvent{
		Type:          validUTF8(e.Type),
		Access:        validUTF8(e.Access),
		Qos:           validUTF8(e.QoS),
		Opex:          validUTF8(e.Opex),
		Uid:           validUTF8(e.UID),
		SendTime:      millis(e.Time),
		StartTime:     millis(start),
		StaleTime:     millis(e.Stale),
		How:           validUTF8(e.How),
		Lat:           wireFloat(e.Point.Lat),
		Lon:           wireFloat(e.Point.Lon),
		Hae:           wireFloat(e.Point.HAE),
		Ce:            wireFloat(e.Point.CE),
		Le:            wireFloat(e.Point.LE),
		Caveat:        validUTF8(e.Caveat),
		ReleaseableTo: validUTF8(e.ReleasableTo),
	}
	if hasDetail(e) {
		var t typed
		var arena []byte
		if bytes.IndexByte(e.Detail, '&') >= 0 {
			arena = make([]byte, 0, len(e.Detail))
		}
		analyze(&t, e.Detail, &arena)
		t.sanitize()
		var cutsArr [nKinds][2]int
		d := &pb.Detail{XmlDetail: string(validUTF8Bytes(appendXMLDetail(nil, e.Detail, t.cuts(cutsArr[:0]), e.Origin)))}
		v := &t.val
		if t.ok[kContact] {
			d.Contact = &pb.Contact{Endpoint: string(v[kContact][0]), Callsign: string(v[kContact][1])}
		}
		if t.ok[kGroup] {
			d.Group = &pb.Group{Name: string(v[kGroup][0]), Role: string(v[kGroup][1])}
		}
		if t.ok[kPrecisionLocation] {
			d.PrecisionLocation = &pb.PrecisionLocation{Geopointsrc: string(v[kPrecisionLocation][0]), Altsrc: string(v[kPrecisionLocation][1])}
		}
		if t.ok[kStatus] {
			d.Status = &pb.Status{Battery: t.battery}
		}
		if t.ok[kTakv] {
			d.Takv = &pb.Takv{Device: string(v[kTakv][0]), Platform: string(v[kTakv][1]), Os: string(v[kTakv][2]), Version: string(v[kTakv][3])}
		}
		if t.ok[kTrack] {
			d.Track = &pb.Track{Speed: t.speed, Course: t.course}
		}
		ev.Detail = d
	}
	return &pb.TakMessage{CotEvent: ev}
}

// validUTF8 returns s with invalid UTF-8 replaced by U+FFFD. The decoders
// refuse invalid UTF-8, but events built inside the node from other feeds
// might carry it, and protobuf receivers refuse a whole message for it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func validUTF8Bytes(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}

// sanitize replaces typed values holding invalid UTF-8.
func (t *typed) sanitize() {
	for k := range nKinds {
		if !t.ok[k] {
			continue
		}
		for i, v := range t.val[k] {
			t.val[k][i] = validUTF8Bytes(v)
		}
	}
}
