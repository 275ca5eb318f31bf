package takproto

import (
	"bytes"
	"errors"
	"math"
	"sync"
	"unicode/utf8"

	"kizuna/internal/cot"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the messages, for the hand-written encoder below. They
// must agree with proto/takproto/*.proto; a test checks the encoder against
// the generated code.
const (
	fTakMessageCotEvent = 2

	fEventType          = 1
	fEventAccess        = 2
	fEventQos           = 3
	fEventOpex          = 4
	fEventUID           = 5
	fEventSendTime      = 6
	fEventStartTime     = 7
	fEventStaleTime     = 8
	fEventHow           = 9
	fEventLat           = 10
	fEventLon           = 11
	fEventHae           = 12
	fEventCe            = 13
	fEventLe            = 14
	fEventDetail        = 15
	fEventCaveat        = 16
	fEventReleaseableTo = 17

	fDetailXML               = 1
	fDetailContact           = 2
	fDetailGroup             = 3
	fDetailPrecisionLocation = 4
	fDetailStatus            = 5
	fDetailTakv              = 6
	fDetailTrack             = 7
)

// encoder holds the scratch buffers of one MarshalEvent call.
type encoder struct {
	ev, det, xml, arena []byte
	t                   typed
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// maxPooled keeps one huge event from pinning its buffers in the pool.
const maxPooled = 64 << 10

func (enc *encoder) release() {
	if cap(enc.ev) <= maxPooled && cap(enc.det) <= maxPooled && cap(enc.xml) <= maxPooled && cap(enc.arena) <= maxPooled {
		encoders.Put(enc)
	}
}

// MarshalEvent appends e as one complete streaming frame (0xbf, varint
// length, TakMessage) to dst. The payload is the one FromEvent describes,
// encoded directly without building the messages; apart from growing dst it
// does not allocate in the steady state. It fails only for a nil event or a
// payload over cot.MaxEventSize.
func MarshalEvent(dst []byte, e *cot.Event) ([]byte, error) {
	if e == nil {
		return dst, errors.New("takproto: marshal of a nil event")
	}
	enc := encoders.Get().(*encoder)
	defer enc.release()
	ev := enc.event(e)
	n := 1 + protowire.SizeBytes(len(ev))
	if n > cot.MaxEventSize {
		return dst, ErrTooLarge
	}
	dst = append(dst, Magic)
	dst = protowire.AppendVarint(dst, uint64(n))
	dst = protowire.AppendTag(dst, fTakMessageCotEvent, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(len(ev)))
	return append(dst, ev...), nil
}

// MarshalPayload appends the TakMessage of e without the frame header, for
// mesh packets (see AppendMesh).
func MarshalPayload(dst []byte, e *cot.Event) ([]byte, error) {
	if e == nil {
		return dst, errors.New("takproto: marshal of a nil event")
	}
	enc := encoders.Get().(*encoder)
	defer enc.release()
	ev := enc.event(e)
	if 1+protowire.SizeBytes(len(ev)) > cot.MaxEventSize {
		return dst, ErrTooLarge
	}
	dst = protowire.AppendTag(dst, fTakMessageCotEvent, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(len(ev)))
	return append(dst, ev...), nil
}

// appendStr appends a string field of the event, made valid UTF-8.
func appendStr(b []byte, num protowire.Number, s string) []byte {
	return appendString(b, num, validUTF8(s))
}

func appendString[S string | []byte](b []byte, num protowire.Number, s S) []byte {
	if len(s) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func sizeString(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + protowire.SizeBytes(n) // every field number here is < 16
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, num protowire.Number, v float64) []byte {
	bits := math.Float64bits(v)
	if bits == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, bits)
}

func sizeDouble(v float64) int {
	if math.Float64bits(v) == 0 {
		return 0
	}
	return 9
}

// event encodes the CotEvent message of e into enc.ev and returns it.
func (enc *encoder) event(e *cot.Event) []byte {
	start := e.Start
	if start.IsZero() {
		start = e.Time
	}
	b := enc.ev[:0]
	b = appendStr(b, fEventType, e.Type)
	b = appendStr(b, fEventAccess, e.Access)
	b = appendStr(b, fEventQos, e.QoS)
	b = appendStr(b, fEventOpex, e.Opex)
	b = appendStr(b, fEventUID, e.UID)
	b = appendUint(b, fEventSendTime, millis(e.Time))
	b = appendUint(b, fEventStartTime, millis(start))
	b = appendUint(b, fEventStaleTime, millis(e.Stale))
	b = appendStr(b, fEventHow, e.How)
	b = appendDouble(b, fEventLat, wireFloat(e.Point.Lat))
	b = appendDouble(b, fEventLon, wireFloat(e.Point.Lon))
	b = appendDouble(b, fEventHae, wireFloat(e.Point.HAE))
	b = appendDouble(b, fEventCe, wireFloat(e.Point.CE))
	b = appendDouble(b, fEventLe, wireFloat(e.Point.LE))
	if hasDetail(e) {
		det := enc.detail(e)
		b = protowire.AppendTag(b, fEventDetail, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(len(det)))
		b = append(b, det...)
	}
	b = appendStr(b, fEventCaveat, e.Caveat)
	b = appendStr(b, fEventReleaseableTo, e.ReleasableTo)
	enc.ev = b
	return b
}

// detail encodes the Detail message of e into enc.det and returns it.
func (enc *encoder) detail(e *cot.Event) []byte {
	t := &enc.t
	*t = typed{}
	enc.arena = enc.arena[:0]
	if bytes.IndexByte(e.Detail, '&') >= 0 && cap(enc.arena) < len(e.Detail) {
		enc.arena = make([]byte, 0, len(e.Detail))
	}
	analyze(t, e.Detail, &enc.arena)
	// Decoded events are valid UTF-8; only events built inside the node
	// from other sources might not be.
	valid := utf8.Valid(e.Detail) && utf8.ValidString(e.Origin.Nation) && utf8.ValidString(e.Origin.Node)
	if !valid {
		t.sanitize()
	}
	var cutsArr [nKinds][2]int
	enc.xml = appendXMLDetail(enc.xml[:0], e.Detail, t.cuts(cutsArr[:0]), e.Origin)
	if !valid {
		enc.xml = validUTF8Bytes(enc.xml)
	}

	b := enc.det[:0]
	b = appendString(b, fDetailXML, enc.xml)
	v := &t.val
	if t.ok[kContact] {
		b = protowire.AppendTag(b, fDetailContact, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeString(len(v[kContact][0]))+sizeString(len(v[kContact][1]))))
		b = appendString(b, 1, v[kContact][0])
		b = appendString(b, 2, v[kContact][1])
	}
	if t.ok[kGroup] {
		b = protowire.AppendTag(b, fDetailGroup, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeString(len(v[kGroup][0]))+sizeString(len(v[kGroup][1]))))
		b = appendString(b, 1, v[kGroup][0])
		b = appendString(b, 2, v[kGroup][1])
	}
	if t.ok[kPrecisionLocation] {
		b = protowire.AppendTag(b, fDetailPrecisionLocation, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeString(len(v[kPrecisionLocation][0]))+sizeString(len(v[kPrecisionLocation][1]))))
		b = appendString(b, 1, v[kPrecisionLocation][0])
		b = appendString(b, 2, v[kPrecisionLocation][1])
	}
	if t.ok[kStatus] {
		n := 0
		if t.battery != 0 {
			n = 1 + protowire.SizeVarint(uint64(t.battery))
		}
		b = protowire.AppendTag(b, fDetailStatus, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		b = appendUint(b, 1, uint64(t.battery))
	}
	if t.ok[kTakv] {
		n := 0
		for i := range 4 {
			n += sizeString(len(v[kTakv][i]))
		}
		b = protowire.AppendTag(b, fDetailTakv, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		for i := range 4 {
			b = appendString(b, protowire.Number(i+1), v[kTakv][i])
		}
	}
	if t.ok[kTrack] {
		b = protowire.AppendTag(b, fDetailTrack, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeDouble(t.speed)+sizeDouble(t.course)))
		b = appendDouble(b, 1, t.speed)
		b = appendDouble(b, 2, t.course)
	}
	enc.det = b
	return b
}
