package federation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"kizuna/internal/label"
)

// Frame types.
const (
	FrameHello     byte = 1
	FrameEvent     byte = 2
	FrameAck       byte = 3
	FrameHeartbeat byte = 4
	// FrameCert carries an origin node's certificate (DER), sent on a
	// connection before the first event that names it (see origin.go).
	FrameCert byte = 5
)

// Lanes of a link. Flash traffic has its own lane, sent before anything
// queued on the routine lane.
const (
	LaneFlash   = 0
	LaneRoutine = 1
	numLanes    = 2
)

// ProtocolVersion is the version carried in HELLO. Version 2 added origin
// signatures (the auth block of EVENT) and the CERT frame.
const ProtocolVersion = 2

// Limits of the frame decoder.
const (
	maxName    = 64 // node id, as pki.ValidateName
	maxCaveat  = 256
	maxPath    = 32
	maxRelease = 64
	maxProof   = 24 // sibling hashes of a batch tree: 2^24 events per signature
	maxSig     = 1024
	maxCert    = 16 << 10
	// HeaderSlack is added to the node's event size limit to give the
	// largest acceptable frame.
	HeaderSlack = 16 << 10
)

// Sentinel errors of the decoder.
var (
	ErrFrame    = errors.New("malformed federation frame")
	ErrTooLarge = errors.New("federation frame over the size limit")
)

// Hello opens a link: who the sender says it is (checked against its
// certificate) and, per lane, the last link sequence number it has
// committed from the receiver (the receiver resumes after it).
type Hello struct {
	Version uint8
	NodeID  string
	Nation  string
	Resume  [numLanes]uint64
}

// Event is one event crossing a link.
type Event struct {
	Lane       uint8
	Seq        uint64 // link sequence number on that lane
	OriginNode string
	OriginSeq  uint64
	Path       []string // node ids that held the event, origin first, sender last
	Label      label.Label
	// Auth is the origin node's proof over origin node, origin sequence,
	// label and payload (see origin.go). Relays forward it unchanged.
	Auth    Auth
	Payload []byte // the event as CoT XML, exactly as the origin signed it
	// Signed is set by the decoder: the encoded label, auth and payload
	// as received, which a relay forwards byte for byte.
	Signed []byte
}

// Auth is an origin's proof for one event: the event is leaf Index of a
// batch of Size events whose Merkle tree root the origin signed with the
// key of the certificate whose SHA-256 fingerprint is CertFP.
type Auth struct {
	CertFP [32]byte
	Size   uint64
	Index  uint64
	Proof  [][32]byte // sibling hashes, deepest first (RFC 9162 inclusion proof)
	Sig    []byte
}

// Cert is an origin node's certificate, DER encoded.
type Cert struct {
	DER []byte
}

// Ack acknowledges every event of a lane up to Seq.
type Ack struct {
	Lane uint8
	Seq  uint64
}

// Heartbeat keeps the link alive; Time is the sender's clock (Unix ns).
type Heartbeat struct {
	Time int64
}

// Frame is one decoded frame: exactly one of the pointers is set.
type Frame struct {
	Type      byte
	Hello     *Hello
	Event     *Event
	Ack       *Ack
	Heartbeat *Heartbeat
	Cert      *Cert
}

// appendHeader appends the length prefix and type for a body of n bytes.
func appendHeader(dst []byte, typ byte, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(n+1))
	return append(dst, typ)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendHello encodes a HELLO frame.
func AppendHello(dst []byte, h Hello) []byte {
	var b []byte
	b = append(b, h.Version)
	b = appendString(b, h.NodeID)
	b = appendString(b, h.Nation)
	for _, r := range h.Resume {
		b = binary.AppendUvarint(b, r)
	}
	dst = appendHeader(dst, FrameHello, len(b))
	return append(dst, b...)
}

// AppendAck encodes an ACK frame.
func AppendAck(dst []byte, a Ack) []byte {
	var tmp [1 + binary.MaxVarintLen64]byte
	b := append(tmp[:0], a.Lane)
	b = binary.AppendUvarint(b, a.Seq)
	dst = appendHeader(dst, FrameAck, len(b))
	return append(dst, b...)
}

// AppendHeartbeat encodes a HEARTBEAT frame.
func AppendHeartbeat(dst []byte, h Heartbeat) []byte {
	var tmp [binary.MaxVarintLen64]byte
	b := binary.AppendVarint(tmp[:0], h.Time)
	dst = appendHeader(dst, FrameHeartbeat, len(b))
	return append(dst, b...)
}

// AppendCert encodes a CERT frame.
func AppendCert(dst []byte, der []byte) []byte {
	dst = appendHeader(dst, FrameCert, len(der))
	return append(dst, der...)
}

// EncodeEventBody encodes everything of an EVENT frame but its lane and
// link sequence number. The durable queue stores this body once per peer;
// AppendEvent frames it when it is sent.
func EncodeEventBody(dst []byte, e *Event) []byte {
	dst = appendRoute(dst, e.OriginNode, e.OriginSeq, e.Path)
	dst = appendLabel(dst, e.Label)
	dst = appendAuth(dst, &e.Auth)
	return append(dst, e.Payload...)
}

// appendRoute encodes the unsigned head of an event body: origin node,
// origin sequence and path. A relay appends the origin's signed record
// (Event.Signed) after it unchanged.
func appendRoute(dst []byte, origin string, seq uint64, path []string) []byte {
	dst = appendString(dst, origin)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(path)))
	for _, p := range path {
		dst = appendString(dst, p)
	}
	return dst
}

func appendLabel(dst []byte, l label.Label) []byte {
	dst = append(dst, byte(l.Classification))
	dst = appendString(dst, l.Originator)
	dst = binary.AppendUvarint(dst, uint64(len(l.ReleasableTo)))
	for _, n := range l.ReleasableTo {
		dst = appendString(dst, n)
	}
	return appendString(dst, l.Caveat)
}

func appendAuth(dst []byte, a *Auth) []byte {
	dst = append(dst, a.CertFP[:]...)
	dst = binary.AppendUvarint(dst, a.Size)
	dst = binary.AppendUvarint(dst, a.Index)
	dst = binary.AppendUvarint(dst, uint64(len(a.Proof)))
	for _, p := range a.Proof {
		dst = append(dst, p[:]...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(a.Sig)))
	return append(dst, a.Sig...)
}

// AppendEvent frames an encoded event body for a lane and sequence number.
func AppendEvent(dst []byte, lane uint8, seq uint64, body []byte) []byte {
	var tmp [1 + binary.MaxVarintLen64]byte
	h := append(tmp[:0], lane)
	h = binary.AppendUvarint(h, seq)
	dst = appendHeader(dst, FrameEvent, len(h)+len(body))
	dst = append(dst, h...)
	return append(dst, body...)
}

// ReadFrame reads one frame from r. A declared length over max fails with
// ErrTooLarge before anything more is read; the caller closes the link.
// buf is reused when large enough; the returned frame does not alias it
// except for Event.Payload, which does.
func ReadFrame(r io.Reader, max int, buf []byte) (*Frame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > max {
		return nil, buf, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	if n == 0 {
		return nil, buf, fmt.Errorf("%w: empty frame", ErrFrame)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, buf, err
	}
	f, err := DecodeFrame(buf)
	return f, buf, err
}

// reader is a bounds-checked cursor over a frame body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrFrame, fmt.Sprintf(format, args...))
	}
}

func (r *reader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str(max int, what string) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(max) || n > uint64(len(r.b)) {
		r.fail("%s of %d bytes", what, n)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	if !printable(s) {
		r.fail("%s is not printable UTF-8", what)
		return ""
	}
	return s
}

func (r *reader) bytesN(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) count(max int, what string) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(max) {
		r.fail("%d %s, limit %d", n, what, max)
		return 0
	}
	return int(n)
}

func (r *reader) lane() uint8 {
	l := r.byte1()
	if r.err == nil && l >= numLanes {
		r.fail("lane %d", l)
	}
	return l
}

func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// ValidNodeID reports whether s can be a node id on the wire.
func ValidNodeID(s string) bool {
	return s != "" && len(s) <= maxName && printable(s)
}

// DecodeFrame decodes one frame (type byte and body, without the length
// prefix). It checks every length against the data and the limits, and
// the names and label fields for well-formedness; whether the frame is
// acceptable from this peer is for the link to decide.
func DecodeFrame(b []byte) (*Frame, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrFrame)
	}
	f := &Frame{Type: b[0]}
	r := &reader{b: b[1:]}
	switch f.Type {
	case FrameHello:
		h := &Hello{}
		h.Version = r.byte1()
		h.NodeID = r.str(maxName, "node id")
		h.Nation = r.str(3, "nation")
		for i := range h.Resume {
			h.Resume[i] = r.uvarint()
		}
		r.end()
		if r.err == nil && (!ValidNodeID(h.NodeID) || !label.ValidNation(h.Nation)) {
			r.fail("hello names node %q of nation %q", h.NodeID, h.Nation)
		}
		f.Hello = h
	case FrameAck:
		a := &Ack{}
		a.Lane = r.lane()
		a.Seq = r.uvarint()
		r.end()
		f.Ack = a
	case FrameHeartbeat:
		f.Heartbeat = &Heartbeat{Time: r.varint()}
		r.end()
	case FrameCert:
		if len(r.b) == 0 || len(r.b) > maxCert {
			r.fail("certificate of %d bytes", len(r.b))
		}
		f.Cert = &Cert{DER: append([]byte(nil), r.b...)}
		r.b = nil
	case FrameEvent:
		e := &Event{}
		e.Lane = r.lane()
		e.Seq = r.uvarint()
		decodeEventBody(r, e)
		f.Event = e
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrFrame, f.Type)
	}
	if r.err != nil {
		return nil, r.err
	}
	return f, nil
}

// DecodeEventBody decodes a body made by EncodeEventBody.
func DecodeEventBody(b []byte) (*Event, error) {
	r := &reader{b: b}
	e := &Event{}
	decodeEventBody(r, e)
	if r.err != nil {
		return nil, r.err
	}
	return e, nil
}

func decodeEventBody(r *reader, e *Event) {
	e.OriginNode = r.str(maxName, "origin node")
	e.OriginSeq = r.uvarint()
	np := r.count(maxPath, "path entries")
	for i := 0; i < np && r.err == nil; i++ {
		e.Path = append(e.Path, r.str(maxName, "path entry"))
	}
	signed := r.b
	e.Label.Classification = label.Classification(r.byte1())
	e.Label.Originator = r.str(3, "originator")
	nr := r.count(maxRelease, "releasable nations")
	for i := 0; i < nr && r.err == nil; i++ {
		e.Label.ReleasableTo = append(e.Label.ReleasableTo, r.str(3, "releasable nation"))
	}
	e.Label.Caveat = r.str(maxCaveat, "caveat")
	copy(e.Auth.CertFP[:], r.bytesN(32, "certificate fingerprint"))
	e.Auth.Size = r.uvarint()
	e.Auth.Index = r.uvarint()
	np = r.count(maxProof, "proof hashes")
	for i := 0; i < np && r.err == nil; i++ {
		var h [32]byte
		copy(h[:], r.bytesN(32, "proof hash"))
		e.Auth.Proof = append(e.Auth.Proof, h)
	}
	ns := r.count(maxSig, "signature bytes")
	if ns > 0 {
		e.Auth.Sig = r.bytesN(ns, "signature")
	}
	if r.err != nil {
		return
	}
	e.Payload = r.b
	e.Signed = signed
	r.b = nil
	switch {
	case !ValidNodeID(e.OriginNode):
		r.fail("origin node %q", e.OriginNode)
	case e.OriginSeq == 0:
		r.fail("origin sequence 0")
	case len(e.Path) == 0 || e.Path[0] != e.OriginNode:
		r.fail("path does not start at the origin node")
	case !e.Label.Valid():
		r.fail("invalid label")
	case len(e.Payload) == 0:
		r.fail("empty payload")
	}
	for _, p := range e.Path {
		if !ValidNodeID(p) {
			r.fail("path entry %q", p)
		}
	}
	for _, n := range e.Label.ReleasableTo {
		if !label.ValidNation(n) {
			r.fail("releasable nation %q", n)
		}
	}
}
