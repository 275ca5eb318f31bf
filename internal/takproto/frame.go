package takproto

import (
	"bytes"
	"fmt"

	"kizuna/internal/cot"
	"kizuna/internal/readbuf"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic is the byte that starts every TAK Protocol frame header.
const Magic = 0xbf

// maxVarintLen is the longest varint protobuf allows.
const maxVarintLen = 10

// AppendFrame appends one streaming frame: 0xbf, the payload length as an
// unsigned varint, then the payload.
func AppendFrame(dst, payload []byte) []byte {
	dst = append(dst, Magic)
	dst = protowire.AppendVarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// AppendMesh appends one mesh (UDP) packet: 0xbf, the protocol version as
// an unsigned varint, 0xbf, then the payload.
func AppendMesh(dst []byte, version uint64, payload []byte) []byte {
	dst = append(dst, Magic)
	dst = protowire.AppendVarint(dst, version)
	dst = append(dst, Magic)
	return append(dst, payload...)
}

// DecodeMesh splits a mesh packet into its protocol version and payload.
// The payload aliases pkt. A packet over cot.MaxEventSize is ErrTooLarge.
func DecodeMesh(pkt []byte) (version uint64, payload []byte, err error) {
	if len(pkt) > cot.MaxEventSize {
		return 0, nil, ErrTooLarge
	}
	if len(pkt) < 3 || pkt[0] != Magic {
		return 0, nil, fmt.Errorf("%w: no mesh header", ErrProto)
	}
	v, n, ok := uvarint(pkt[1:])
	switch {
	case n < 0:
		return 0, nil, ErrBadVarint
	case !ok:
		return 0, nil, fmt.Errorf("%w: truncated mesh header", ErrProto)
	}
	rest := pkt[1+n:]
	if len(rest) == 0 || rest[0] != Magic {
		return 0, nil, fmt.Errorf("%w: no second magic byte in mesh header", ErrProto)
	}
	return v, rest[1:], nil
}

// uvarint reads a protobuf unsigned varint. ok is false when b ends before
// the varint does (more bytes are needed); n < 0 when the varint runs over
// 10 bytes or overflows 64 bits.
func uvarint(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < maxVarintLen; i++ {
		if i >= len(b) {
			return 0, 0, false
		}
		c := b[i]
		if i == maxVarintLen-1 && c > 1 {
			return 0, -1, false
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, true
		}
	}
	return 0, -1, false
}

// Splitter finds streaming frames (0xbf, varint length, payload) in a byte
// stream. It has the shape of cot.Splitter: Feed or Buffer/Commit add
// bytes, Next returns payloads. It resynchronises on 0xbf: zero bytes
// between frames (which some clients append to every frame) are skipped
// silently, other stray bytes are skipped and reported with ErrStray.
type Splitter struct {
	rb  readbuf.Buffer
	max int
	err error
}

// NewSplitter returns a splitter that refuses frames whose payload is over
// max bytes (cot.MaxEventSize when max <= 0).
func NewSplitter(max int) *Splitter {
	if max <= 0 {
		max = cot.MaxEventSize
	}
	return &Splitter{max: max}
}

// Feed appends stream bytes. Payloads returned by Next before the call are
// invalid afterwards.
func (s *Splitter) Feed(p []byte) {
	s.rb.Compact()
	s.rb.Append(p)
}

// Buffer returns a free tail of the internal buffer of at least n bytes to
// read into directly; call Commit with the count read. Payloads returned by
// Next before the call are invalid afterwards.
func (s *Splitter) Buffer(n int) []byte {
	s.rb.Compact()
	return s.rb.Tail(n)
}

// Commit extends the buffer by n bytes written into the slice from Buffer.
func (s *Splitter) Commit(n int) { s.rb.Commit(n) }

// Buffered reports how many bytes are held and not yet returned.
func (s *Splitter) Buffered() int { return s.rb.Buffered() }

// Rest removes and returns the bytes not yet returned as frames.
func (s *Splitter) Rest() []byte { return s.rb.Take() }

// Next returns the payload of the next complete frame, or nil, nil when
// more input is needed. The payload aliases the internal buffer and is
// valid until the next Feed or Buffer; a zero-length frame gives an empty,
// non-nil payload. A nil payload with an ErrStray error reports skipped
// garbage and the stream goes on. ErrTooLarge (a length over the limit) and
// ErrBadVarint are fatal: Next keeps returning them.
func (s *Splitter) Next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	for {
		b := s.rb.Bytes()[s.rb.Done():]
		if len(b) == 0 {
			return nil, nil
		}
		if b[0] != Magic {
			i := 0
			for i < len(b) && b[i] == 0 {
				i++
			}
			if i > 0 {
				s.rb.Consume(i)
				continue
			}
			j := bytes.IndexByte(b, Magic)
			if j < 0 {
				j = len(b)
			}
			s.rb.Consume(j)
			return nil, fmt.Errorf("%w: skipped %d bytes", ErrStray, j)
		}
		n, k, ok := uvarint(b[1:])
		if k < 0 {
			s.err = ErrBadVarint
			return nil, s.err
		}
		if !ok {
			return nil, nil
		}
		if n > uint64(s.max) {
			s.err = fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, n)
			return nil, s.err
		}
		end := 1 + k + int(n)
		if len(b) < end {
			return nil, nil
		}
		s.rb.Consume(end)
		return b[1+k : end : end], nil
	}
}
