package takproto

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kizuna/internal/cot"
	"kizuna/internal/takproto/pb"
	"kizuna/internal/xmltext"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The decoder below reads a TakMessage straight into a cot.Event, without
// the generated structs, following the protobuf rules exactly as the
// generated code does (a fuzz test compares the two): unknown fields and
// known fields of another wire type are skipped, the last value of a
// scalar wins, repeated sub-messages merge, and strings must be UTF-8.

// wireEvent is a decoded CotEvent whose strings alias the payload.
type wireEvent struct {
	typ, access, qos, opex, uid, how, caveat, rel []byte
	send, start, stale                            uint64
	lat, lon, hae, ce, le                         float64
	hasDetail                                     bool
	xml                                           []byte
	has                                           [nKinds]bool
	str                                           [nKinds][4][]byte // kindAttrs order
	battery                                       uint32
	speed, course                                 float64
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProto, fmt.Sprintf(format, args...))
}

// field reads the tag at b. It refuses the tags the generated code refuses.
func field(b []byte) (protowire.Number, protowire.Type, int, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return 0, 0, 0, protoErr("bad tag")
	}
	if typ == protowire.EndGroupType {
		return 0, 0, 0, protoErr("unexpected end group")
	}
	return num, typ, n, nil
}

// skip consumes the value of an unknown field.
func skip(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, protoErr("field %d: %v", num, protowire.ParseError(n))
	}
	return n, nil
}

func bytesField(num protowire.Number, b []byte) ([]byte, int, error) {
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, protoErr("field %d: %v", num, protowire.ParseError(n))
	}
	return v, n, nil
}

func stringField(num protowire.Number, b []byte) ([]byte, int, error) {
	v, n, err := bytesField(num, b)
	if err == nil && !utf8.Valid(v) {
		return nil, 0, protoErr("field %d: invalid UTF-8", num)
	}
	return v, n, err
}

func varintField(num protowire.Number, b []byte) (uint64, int, error) {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, protoErr("field %d: %v", num, protowire.ParseError(n))
	}
	return v, n, nil
}

func doubleField(num protowire.Number, b []byte) (float64, int, error) {
	v, n := protowire.ConsumeFixed64(b)
	if n < 0 {
		return 0, 0, protoErr("field %d: %v", num, protowire.ParseError(n))
	}
	return math.Float64frombits(v), n, nil
}

// decodeMessage reads a TakMessage; hasEvent reports a cotEvent field.
func decodeMessage(b []byte, w *wireEvent) (hasEvent bool, err error) {
	for len(b) > 0 {
		num, typ, n, err := field(b)
		if err != nil {
			return false, err
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType: // takControl
			var v []byte
			if v, n, err = bytesField(num, b); err == nil {
				err = decodeControl(v)
			}
		case num == 2 && typ == protowire.BytesType: // cotEvent
			var v []byte
			if v, n, err = bytesField(num, b); err == nil {
				hasEvent = true
				err = decodeEvent(v, w)
			}
		case (num == 3 || num == 4) && typ == protowire.VarintType: // submissionTime, creationTime
			_, n, err = varintField(num, b)
		default:
			n, err = skip(num, typ, b)
		}
		if err != nil {
			return false, err
		}
		b = b[n:]
	}
	return hasEvent, nil
}

func decodeControl(b []byte) error {
	for len(b) > 0 {
		num, typ, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 2) && typ == protowire.VarintType:
			_, n, err = varintField(num, b)
		case num == 3 && typ == protowire.BytesType:
			_, n, err = stringField(num, b)
		default:
			n, err = skip(num, typ, b)
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func decodeEvent(b []byte, w *wireEvent) error {
	for len(b) > 0 {
		num, typ, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		var s *[]byte
		var u *uint64
		var f *float64
		switch num {
		case fEventType:
			s = &w.typ
		case fEventAccess:
			s = &w.access
		case fEventQos:
			s = &w.qos
		case fEventOpex:
			s = &w.opex
		case fEventUID:
			s = &w.uid
		case fEventHow:
			s = &w.how
		case fEventCaveat:
			s = &w.caveat
		case fEventReleaseableTo:
			s = &w.rel
		case fEventSendTime:
			u = &w.send
		case fEventStartTime:
			u = &w.start
		case fEventStaleTime:
			u = &w.stale
		case fEventLat:
			f = &w.lat
		case fEventLon:
			f = &w.lon
		case fEventHae:
			f = &w.hae
		case fEventCe:
			f = &w.ce
		case fEventLe:
			f = &w.le
		}
		switch {
		case s != nil && typ == protowire.BytesType:
			*s, n, err = stringField(num, b)
		case u != nil && typ == protowire.VarintType:
			*u, n, err = varintField(num, b)
		case f != nil && typ == protowire.Fixed64Type:
			*f, n, err = doubleField(num, b)
		case num == fEventDetail && typ == protowire.BytesType:
			var v []byte
			if v, n, err = bytesField(num, b); err == nil {
				w.hasDetail = true
				err = decodeDetail(v, w)
			}
		default:
			n, err = skip(num, typ, b)
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// detailKinds maps Detail field numbers 2..7 to kinds.
var detailKinds = [...]kind{
	fDetailContact:           kContact,
	fDetailGroup:             kGroup,
	fDetailPrecisionLocation: kPrecisionLocation,
	fDetailStatus:            kStatus,
	fDetailTakv:              kTakv,
	fDetailTrack:             kTrack,
}

func decodeDetail(b []byte, w *wireEvent) error {
	for len(b) > 0 {
		num, typ, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case num == fDetailXML && typ == protowire.BytesType:
			w.xml, n, err = stringField(num, b)
		case num >= fDetailContact && num <= fDetailTrack && typ == protowire.BytesType:
			var v []byte
			if v, n, err = bytesField(num, b); err == nil {
				k := detailKinds[num]
				w.has[k] = true
				err = decodeSub(k, v, w)
			}
		default:
			n, err = skip(num, typ, b)
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// decodeSub reads one typed detail message (Contact … Track) and merges it
// into w.
func decodeSub(k kind, b []byte, w *wireEvent) error {
	for len(b) > 0 {
		num, typ, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case k == kStatus && num == 1 && typ == protowire.VarintType:
			var v uint64
			v, n, err = varintField(num, b)
			w.battery = uint32(v)
		case k == kTrack && num == 1 && typ == protowire.Fixed64Type:
			w.speed, n, err = doubleField(num, b)
		case k == kTrack && num == 2 && typ == protowire.Fixed64Type:
			w.course, n, err = doubleField(num, b)
		case k != kStatus && k != kTrack && num >= 1 && int(num) <= len(kindAttrs[k]) && typ == protowire.BytesType:
			w.str[k][num-1], n, err = stringField(num, b)
		default:
			n, err = skip(num, typ, b)
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// ToEvent decodes a TakMessage payload (one streaming frame or the body of
// a mesh packet) into a validated event. Unknown fields are ignored. A
// payload that does not parse is ErrProto; a message without an event is
// ErrNoEvent; other errors carry the cot sentinels. The event does not
// alias payload.
func ToEvent(payload []byte) (*cot.Event, error) {
	if len(payload) > cot.MaxEventSize {
		return nil, ErrTooLarge
	}
	var w wireEvent
	hasEvent, err := decodeMessage(payload, &w)
	if err != nil {
		return nil, err
	}
	if !hasEvent {
		return nil, ErrNoEvent
	}
	e, err := w.event()
	if err != nil {
		if len(w.uid) > 0 {
			return nil, fmt.Errorf("event %s: %w", w.uid, err)
		}
		return nil, err
	}
	return e, nil
}

// MessageToEvent converts a decoded TakMessage into a validated event, with
// the checks of ToEvent.
func MessageToEvent(m *pb.TakMessage) (*cot.Event, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProto, err)
	}
	return ToEvent(b)
}

// maxMillis is the last millisecond of year 9999, the latest time the XML
// decoder accepts.
var maxMillis = uint64(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() - 1)

func fromMillis(ms uint64, name string) (time.Time, error) {
	if ms == 0 {
		return time.Time{}, nil
	}
	if ms > maxMillis {
		return time.Time{}, fmt.Errorf("%w: %s=%d ms", cot.ErrTime, name, ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// xmlSafe reports whether s holds only characters the XML form can carry,
// so that the event reads the same in both wire formats.
func xmlSafe(s []byte) bool {
	for _, c := range s {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// event converts w into a validated cot.Event.
func (w *wireEvent) event() (*cot.Event, error) {
	attrs := [...]*[]byte{&w.uid, &w.typ, &w.how, &w.qos, &w.opex, &w.access, &w.caveat, &w.rel}
	total := 0
	for _, a := range attrs {
		if !xmlSafe(*a) {
			return nil, fmt.Errorf("%w: control character in an event attribute", cot.ErrMalformed)
		}
		total += len(*a)
	}
	for k := range nKinds {
		for _, v := range w.str[k] {
			if w.has[k] && !xmlSafe(v) {
				return nil, fmt.Errorf("%w: control character in a detail field", cot.ErrMalformed)
			}
		}
	}
	for _, f := range [...]float64{w.lat, w.lon, w.hae, w.ce, w.le} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: point value %v", cot.ErrCoordinates, f)
		}
	}
	e := &cot.Event{
		Version: "2.0",
		Point:   cot.Point{Lat: w.lat, Lon: w.lon, HAE: w.hae, CE: w.ce, LE: w.le},
		Course:  math.NaN(),
		Speed:   math.NaN(),
	}
	var err error
	if e.Time, err = fromMillis(w.send, "sendTime"); err != nil {
		return nil, err
	}
	if e.Start, err = fromMillis(w.start, "startTime"); err != nil {
		return nil, err
	}
	if e.Stale, err = fromMillis(w.stale, "staleTime"); err != nil {
		return nil, err
	}
	if e.Start.IsZero() {
		e.Start = e.Time
	}
	// One allocation for the uid and one for all the other attribute
	// strings, which a store may replace by shared copies (the uid stays,
	// and must not keep the others alive).
	e.UID = string(w.uid)
	var sb strings.Builder
	sb.Grow(total - len(w.uid))
	for _, a := range attrs[1:] {
		sb.Write(*a)
	}
	all := sb.String()
	cut := func(a []byte) string {
		s := all[:len(a)]
		all = all[len(a):]
		return s
	}
	e.Type, e.How, e.QoS = cut(w.typ), cut(w.how), cut(w.qos)
	e.Opex, e.Access, e.Caveat, e.ReleasableTo = cut(w.opex), cut(w.access), cut(w.caveat), cut(w.rel)
	if w.hasDetail {
		e.HasDetail = true
		if err := w.setDetail(e); err != nil {
			return nil, err
		}
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// setDetail sets the detail of e: the typed fields as elements, then
// xmlDetail. xmlDetail is untrusted and goes through SetDetail, the checks
// of the XML decoder, which also extracts its facts. The typed elements are
// written here, escaped, from fields already checked (UTF-8, no control
// characters), so they are well formed by construction; their facts (the
// callsign, the track) are taken directly. A typed field whose element also
// appears at the top level of xmlDetail is left out: xmlDetail wins.
func (w *wireEvent) setDetail(e *cot.Event) error {
	present := w.has
	anyTyped := false
	for k, p := range present {
		// Only an xmlDetail that mentions the element can override it.
		if p && bytes.Contains(w.xml, []byte(kindNames[k])) {
			elems := elemScanner{b: w.xml}
			for {
				el, ok, err := elems.next()
				if err != nil || !ok {
					break // a broken xmlDetail is refused by SetDetail
				}
				if k, known := kindOf(el.name); known {
					present[k] = false
				}
			}
			break
		}
	}
	for _, p := range present {
		anyTyped = anyTyped || p
	}
	if err := e.SetDetail(w.xml); err != nil {
		return err
	}
	if !anyTyped {
		return nil
	}
	d := w.appendTypedXML(make([]byte, 0, 320+len(e.Detail)), &present)
	e.Detail = append(d, e.Detail...)
	if present[kContact] {
		e.Callsign = string(w.str[kContact][1])
	}
	if present[kTrack] {
		e.Course, e.Speed = w.course, w.speed
	}
	return nil
}

// appendTypedXML appends the present typed fields as XML elements.
func (w *wireEvent) appendTypedXML(out []byte, present *[nKinds]bool) []byte {
	for k := range nKinds {
		if !present[k] {
			continue
		}
		switch k {
		case kContact:
			out = append(out, "<contact"...)
			if len(w.str[k][0]) > 0 {
				out = appendAttrBytes(out, "endpoint", w.str[k][0])
			}
			out = appendAttrBytes(out, "callsign", w.str[k][1])
			out = append(out, "/>"...)
		case kStatus:
			out = append(out, `<status battery="`...)
			out = strconv.AppendUint(out, uint64(w.battery), 10)
			out = append(out, `"/>`...)
		case kTrack:
			out = append(out, `<track speed="`...)
			out = strconv.AppendFloat(out, w.speed, 'f', -1, 64)
			out = append(out, `" course="`...)
			out = strconv.AppendFloat(out, w.course, 'f', -1, 64)
			out = append(out, `"/>`...)
		default:
			out = append(out, '<')
			out = append(out, kindNames[k]...)
			for i, name := range kindAttrs[k] {
				out = appendAttrBytes(out, name, w.str[k][i])
			}
			out = append(out, "/>"...)
		}
	}
	return out
}

// kindNames are the element names of the kinds.
var kindNames = [nKinds]string{
	kContact:           "contact",
	kGroup:             "__group",
	kPrecisionLocation: "precisionlocation",
	kStatus:            "status",
	kTakv:              "takv",
	kTrack:             "track",
}

// appendAttrBytes appends ` name="value"` with value escaped.
func appendAttrBytes(dst []byte, name string, val []byte) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = xmltext.AppendEscaped(dst, val)
	return append(dst, '"')
}
