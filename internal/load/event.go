package load

import (
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

const cotTime = "2006-01-02T15:04:05.000Z"

// unknown is the CoT value for an unknown hae, ce or le.
const unknown = 9999999.0

// position is one client's position report, as ATAK sends it: an SA event
// of type a-f-G-U-C with contact, group, status, takv and track details,
// plus the load marker carrying the send time.
type position struct {
	uid, callsign string
	lat, lon      float64
	stale         time.Duration
	client        int
	marker        []byte // `__load r="RUN" ts="`

	// Built once: the parts of the event that never change.
	xmlHead   []byte    // up to and including ` time="`
	xmlPoint  []byte    // `"><point …/><detail>…` up to the marker
	xmlTail   []byte    // after the sequence number to the end
	xmlDetail []byte    // protobuf xmlDetail without the marker
	scratch   [4][]byte // reused buffers: detail, event, xmlDetail, contact/group
}

func newPosition(run string, client int, stale time.Duration) *position {
	p := &position{
		uid:      "load-" + run + "-" + strconv.Itoa(client),
		callsign: "LOAD-" + strconv.Itoa(client),
		// Spread the clients over a 40×40 grid of about 100 m cells.
		lat:    35.6 + float64(client%40)*0.001,
		lon:    139.7 + float64(client/40%40)*0.001,
		stale:  stale,
		client: client,
		marker: markerPrefix(run),
	}
	p.xmlHead = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<event version="2.0" uid="` + p.uid + `" type="a-f-G-U-C" how="m-g" time="`)
	p.xmlPoint = []byte(`"><point lat="` + fmtFloat(p.lat) + `" lon="` + fmtFloat(p.lon) +
		`" hae="12.5" ce="9.9" le="9999999.0"/><detail>` +
		`<contact endpoint="*:-1:stcp" callsign="` + p.callsign + `"/>` +
		`<__group name="Cyan" role="Team Member"/>` + staticDetail)
	p.xmlTail = []byte(`"/></detail></event>`)
	p.xmlDetail = []byte(staticDetail)
	return p
}

// staticDetail holds the detail children ATAK adds to every position report
// that the load does not vary.
const staticDetail = `<status battery="88"/>` +
	`<takv device="kizuna-load" platform="kizuna" os="linux" version="1"/>` +
	`<track course="0.0" speed="0.0"/>`

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

// appendMarker appends the marker element after its prefix:
// `<__load r="RUN" ts="NANOS" c="CLIENT" s="SEQ"/>`, without the closing
// `"/>` (the caller's tail has it).
func (p *position) appendMarker(dst []byte, now time.Time, seq uint64) []byte {
	dst = append(dst, '<')
	dst = append(dst, p.marker...)
	dst = strconv.AppendInt(dst, now.UnixNano(), 10)
	dst = append(dst, `" c="`...)
	dst = strconv.AppendInt(dst, int64(p.client), 10)
	dst = append(dst, `" s="`...)
	return strconv.AppendUint(dst, seq, 10)
}

// appendXML appends the event, sent at now, as CoT XML.
func (p *position) appendXML(dst []byte, now time.Time, seq uint64) []byte {
	now = now.UTC()
	dst = append(dst, p.xmlHead...)
	dst = now.AppendFormat(dst, cotTime)
	dst = append(dst, `" start="`...)
	dst = now.AppendFormat(dst, cotTime)
	dst = append(dst, `" stale="`...)
	dst = now.Add(p.stale).AppendFormat(dst, cotTime)
	dst = append(dst, p.xmlPoint...)
	dst = p.appendMarker(dst, now, seq)
	return append(dst, p.xmlTail...)
}

// Field numbers of the TAK protocol v1 messages.
const (
	fTakControl = 1
	fCotEvent   = 2

	fType      = 1
	fUID       = 5
	fSendTime  = 6
	fStartTime = 7
	fStaleTime = 8
	fHow       = 9
	fLat       = 10
	fLon       = 11
	fHae       = 12
	fCe        = 13
	fLe        = 14
	fDetail    = 15

	fXMLDetail = 1
	fContact   = 2
	fGroup     = 3

	fEndpoint = 1
	fCallsign = 2

	fGroupName = 1
	fGroupRole = 2
)

// appendFrame appends the event, sent at now, as one TAK protocol
// streaming frame: 0xbf, varint length, TakMessage{cotEvent}.
func (p *position) appendFrame(dst []byte, now time.Time, seq uint64) []byte {
	// Detail.
	d := p.scratch[0][:0]
	x := append(p.scratch[2][:0], p.xmlDetail...)
	x = p.appendMarker(x, now, seq)
	x = append(x, `"/>`...)
	p.scratch[2] = x
	d = protowire.AppendTag(d, fXMLDetail, protowire.BytesType)
	d = protowire.AppendBytes(d, x)
	sub := p.scratch[3][:0]
	sub = protowire.AppendTag(sub, fEndpoint, protowire.BytesType)
	sub = protowire.AppendString(sub, "*:-1:stcp")
	sub = protowire.AppendTag(sub, fCallsign, protowire.BytesType)
	sub = protowire.AppendString(sub, p.callsign)
	d = protowire.AppendTag(d, fContact, protowire.BytesType)
	d = protowire.AppendBytes(d, sub)
	sub = sub[:0]
	sub = protowire.AppendTag(sub, fGroupName, protowire.BytesType)
	sub = protowire.AppendString(sub, "Cyan")
	sub = protowire.AppendTag(sub, fGroupRole, protowire.BytesType)
	sub = protowire.AppendString(sub, "Team Member")
	d = protowire.AppendTag(d, fGroup, protowire.BytesType)
	d = protowire.AppendBytes(d, sub)
	p.scratch[3] = sub
	p.scratch[0] = d

	// CotEvent.
	ms := uint64(now.UnixMilli())
	e := p.scratch[1][:0]
	e = appendString(e, fType, "a-f-G-U-C")
	e = appendString(e, fUID, p.uid)
	e = appendVarint(e, fSendTime, ms)
	e = appendVarint(e, fStartTime, ms)
	e = appendVarint(e, fStaleTime, ms+uint64(p.stale.Milliseconds()))
	e = appendString(e, fHow, "m-g")
	e = appendDouble(e, fLat, p.lat)
	e = appendDouble(e, fLon, p.lon)
	e = appendDouble(e, fHae, 12.5)
	e = appendDouble(e, fCe, 9.9)
	e = appendDouble(e, fLe, unknown)
	e = protowire.AppendTag(e, fDetail, protowire.BytesType)
	e = protowire.AppendBytes(e, d)
	p.scratch[1] = e

	// TakMessage in a frame.
	size := protowire.SizeTag(fCotEvent) + protowire.SizeBytes(len(e))
	dst = append(dst, frameMagic)
	dst = protowire.AppendVarint(dst, uint64(size))
	dst = protowire.AppendTag(dst, fCotEvent, protowire.BytesType)
	return protowire.AppendBytes(dst, e)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, num protowire.Number, f float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

// controlRequest returns a TAK protocol negotiation event (t-x-takp-q) asking
// for version 1.
func controlRequest(uid string, now time.Time) []byte {
	now = now.UTC()
	t := now.Format(cotTime)
	return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<event version="2.0" uid="` + uid + `" type="t-x-takp-q" how="m-g" time="` + t +
		`" start="` + t + `" stale="` + now.Add(time.Minute).Format(cotTime) +
		`"><point lat="0.0" lon="0.0" hae="0.0" ce="9999999.0" le="9999999.0"/>` +
		`<detail><TakControl><TakRequest version="1"/></TakControl></detail></event>`)
}
