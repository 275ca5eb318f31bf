// Package hub owns fan-out: it delivers each accepted event to every
// subscriber the label policy releases it to. Each event is serialized at
// most once per wire format (CoT XML, TAK protobuf, JSON for the web) and
// the bytes are shared by all recipients. Every subscriber has a bounded
// queue; a slow subscriber first loses superseded position updates, then
// is disconnected, and never delays anyone else.
package hub

import (
	"bytes"
	"sync"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Kind says what a message asks of a subscriber.
type Kind uint8

const (
	// KindEvent carries a CoT event.
	KindEvent Kind = iota
	// KindExpire tells web subscribers that an object left the picture
	// (stale or deleted). TAK clients expire objects themselves and skip it.
	KindExpire
	// KindControl is connection-level protocol traffic (an offer, a pong)
	// that a TAK connection queues for itself: written like an event but
	// never published and not counted as a delivery.
	KindControl
	// KindSwitchProto is a protocol response after which the connection
	// switches to TAK protobuf framing (TAK protocol negotiation).
	KindSwitchProto
)

// Control reports whether m is connection-level protocol traffic.
func (m *Message) Control() bool { return m.Kind >= KindControl }

// Encoder turns an event into the bytes of one wire format.
type Encoder func(dst []byte, m *Message) []byte

// Encoders are the wire formats a hub knows. Proto and JSON are provided by
// the packages that own those formats, so the hub does not depend on them.
type Encoders struct {
	Proto Encoder // TAK streaming frame
	JSON  Encoder // web stream frame
}

// Message is one unit of fan-out. It is immutable once published. It
// carries only what delivery needs: what to send, to whom it may be
// released, and how it ranks in a queue. Facts for other components
// (federation provenance, history thinning) travel beside it, owned by
// those who need them.
type Message struct {
	Kind  Kind
	Event *cot.Event
	Label label.Label
	UID   string
	// Position marks a position report that a newer one of the same UID
	// supersedes in a congested queue.
	Position bool
	// Flash marks flash-priority traffic (missile warnings, emergencies):
	// it jumps ahead of routine messages in every queue.
	Flash bool
	// Regional marks an object of the fused ISR picture: a subscriber
	// receives it according to its Scope (region.go).
	Regional bool
	// Latest marks a state that replaces a queued message of the same uid
	// (also Latest) instead of queueing behind it (region.go).
	Latest bool
	// From is the subscriber id of the sender, which never gets its own
	// event back. Zero for server-made events.
	From uint64
	// Dests restricts delivery to these recipients (directed delivery).
	Dests []cot.Dest
	// Received is when the node accepted the event, for latency metrics.
	Received time.Time

	enc *Encoders

	xmlOnce, protoOnce, jsonOnce sync.Once
	xml, proto, json             []byte
}

// NewMessage builds a message for ev with the given label. The event's
// label attributes must already be set (ev.SetLabel).
func NewMessage(ev *cot.Event, l label.Label, from uint64, enc *Encoders) *Message {
	return &Message{
		Kind:     KindEvent,
		Event:    ev,
		Label:    l,
		UID:      ev.UID,
		Position: ev.IsPosition(),
		Flash:    ev.Flash(),
		From:     from,
		Dests:    ev.Dests,
		Received: time.Now(),
		enc:      enc,
	}
}

// NewControl builds connection-level protocol traffic from its XML (kind
// KindControl or KindSwitchProto).
func NewControl(kind Kind, xml []byte) *Message {
	m := &Message{Kind: kind, Received: time.Now()}
	m.SetXML(xml)
	return m
}

// NewExpire builds a message saying uid left the picture.
func NewExpire(uid string, l label.Label, enc *Encoders) *Message {
	return &Message{Kind: KindExpire, UID: uid, Label: l, Received: time.Now(), enc: enc}
}

// XML returns the event as CoT XML, encoding it on first use.
func (m *Message) XML() []byte {
	m.xmlOnce.Do(func() {
		if m.Event != nil {
			// Encode into scratch space, then keep an exact-size copy: live
			// objects hold these bytes for their whole life.
			buf := scratch.Get().(*[]byte)
			b := m.Event.AppendXML((*buf)[:0])
			m.xml = bytes.Clone(b)
			*buf = b
			scratch.Put(buf)
		}
	})
	return m.xml
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ShareDetail encodes the XML form and points the event's detail into it,
// so that a live object holds its detail bytes once. It must be called
// before the message is shared.
func (m *Message) ShareDetail() {
	x := m.XML()
	e := m.Event
	if e == nil || len(e.Detail) == 0 {
		return
	}
	// Attribute values escape '<', so the first "<detail>" is the element.
	i := bytes.Index(x, []byte("<detail>"))
	if i < 0 {
		return
	}
	i += len("<detail>")
	if j := i + len(e.Detail); j <= len(x) && bytes.Equal(x[i:j], e.Detail) {
		e.Detail = x[i:j:j]
	}
}

// SetXML provides already-encoded XML (read back from storage, or a
// protocol control message that has no event). It must be called before the
// message is shared.
func (m *Message) SetXML(b []byte) {
	m.xmlOnce.Do(func() { m.xml = b })
}

// Proto returns the event as a TAK streaming frame, encoding it on first use.
func (m *Message) Proto() []byte {
	if m.Event == nil || m.enc == nil || m.enc.Proto == nil {
		return nil
	}
	m.protoOnce.Do(func() { m.proto = m.enc.Proto(nil, m) })
	return m.proto
}

// JSON returns the web stream frame for this message, encoding it on first
// use.
func (m *Message) JSON() []byte {
	if m.enc == nil || m.enc.JSON == nil {
		return nil
	}
	m.jsonOnce.Do(func() { m.json = m.enc.JSON(nil, m) })
	return m.json
}
