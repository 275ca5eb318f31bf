package cot

import (
	"bytes"
	"fmt"
	"kizuna/internal/readbuf"
	"kizuna/internal/xmltext"
)

// Splitter finds complete top-level XML documents in a byte stream. Events
// may arrive several per read or split across reads, with or without
// <?xml …?> declarations and with whitespace between them. The scan is
// resumable, so a large event arriving in small pieces costs linear time.
type Splitter struct {
	rb    readbuf.Buffer
	max   int
	pos   int // where scanning resumes
	start int // offset of the current root's '<', or -1
	depth int
	dtd   bool // a DTD preceded the current document
}

// NewSplitter returns a splitter that refuses documents over max bytes
// (MaxEventSize when max <= 0).
func NewSplitter(max int) *Splitter {
	if max <= 0 {
		max = MaxEventSize
	}
	return &Splitter{max: max, start: -1}
}

// Feed appends stream bytes. Slices returned by Next before the call are
// invalid afterwards.
func (s *Splitter) Feed(p []byte) {
	s.compact()
	s.rb.Append(p)
}

// Buffer returns a free tail of the internal buffer of at least n bytes to
// read into directly; call Commit with the count read. It saves a copy per
// read on the hot path.
func (s *Splitter) Buffer(n int) []byte {
	s.compact()
	return s.rb.Tail(n)
}

// Commit extends the buffer by n bytes written into the slice from Buffer.
func (s *Splitter) Commit(n int) { s.rb.Commit(n) }

// compact drops the documents already returned and shifts the scan state.
func (s *Splitter) compact() {
	d := s.rb.Compact()
	s.pos -= d
	if s.start >= 0 {
		s.start -= d
	}
}

// Rest removes and returns the bytes not yet returned as documents, for a
// connection that switches to another framing.
func (s *Splitter) Rest() []byte {
	r := s.rb.Take()
	s.pos, s.start, s.depth, s.dtd = 0, -1, 0, false
	return r
}

// Buffered reports how many bytes are held.
func (s *Splitter) Buffered() int { return s.rb.Buffered() }

// Next returns the next complete document, or nil when more input is
// needed. A non-nil error with a nil document reports garbage that was
// skipped or a document that was dropped (ErrDTD: it came with a DTD); the
// stream goes on. ErrTooLarge, for a document over the limit, is fatal for
// the stream.
//
// Long on purpose: one byte-level state machine over the read buffer on the
// hot path of every TAK stream; its state stays in locals, and splitting it
// into calls per state would scatter the XML grammar it follows and cost the
// benchmark.
func (s *Splitter) Next() ([]byte, error) {
	b := s.rb.Bytes()
	for s.pos < len(b) {
		if s.start < 0 {
			// Between documents.
			c := b[s.pos]
			if xmltext.IsSpace(c) || c == 0 {
				s.pos++
				s.rb.SetDone(s.pos)
				continue
			}
			if c != '<' {
				lt := bytes.IndexByte(b[s.pos:], '<')
				skipped := len(b) - s.pos
				if lt >= 0 {
					skipped = lt
				}
				s.pos += skipped
				s.rb.SetDone(s.pos)
				return nil, fmt.Errorf("%w: %d stray bytes between events", ErrMalformed, skipped)
			}
			rest := b[s.pos:]
			if len(rest) < 4 {
				return nil, s.need()
			}
			switch {
			case bytes.HasPrefix(rest, []byte("<?")):
				end := bytes.Index(rest, []byte("?>"))
				if end < 0 {
					return nil, s.need()
				}
				s.pos += end + 2
				s.rb.SetDone(s.pos)
				continue
			case bytes.HasPrefix(rest, []byte("<!--")):
				end := bytes.Index(rest[4:], []byte("-->"))
				if end < 0 {
					return nil, s.need()
				}
				s.pos += 4 + end + 3
				s.rb.SetDone(s.pos)
				continue
			case bytes.HasPrefix(rest, []byte("<!")):
				// A DTD belongs to the document that follows: skip the whole
				// declaration, internal subset included, and drop that
				// document with ErrDTD when it completes.
				end := declEnd(rest)
				if end < 0 {
					return nil, s.need()
				}
				s.pos += end
				s.rb.SetDone(s.pos)
				s.dtd = true
				continue
			case rest[1] == '/':
				end := bytes.IndexByte(rest, '>')
				if end < 0 {
					return nil, s.need()
				}
				s.pos += end + 1
				s.rb.SetDone(s.pos)
				return nil, fmt.Errorf("%w: stray end tag", ErrMalformed)
			}
			s.start = s.pos
			s.depth = 0
		}
		// Inside a document: walk constructs.
		rest := b[s.pos:]
		if rest[0] != '<' {
			lt := bytes.IndexByte(rest, '<')
			if lt < 0 {
				s.pos = len(b)
				return nil, s.need()
			}
			s.pos += lt
			continue
		}
		if len(rest) < 2 {
			return nil, s.need()
		}
		switch rest[1] {
		case '/':
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return nil, s.need()
			}
			s.pos += end + 1
			s.depth--
		case '!':
			var end int
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				end = bytes.Index(rest, []byte("-->"))
				if end >= 0 {
					end += 3
				}
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				end = bytes.Index(rest, []byte("]]>"))
				if end >= 0 {
					end += 3
				}
			case len(rest) < 9:
				return nil, s.need()
			default:
				end = bytes.IndexByte(rest, '>')
				if end >= 0 {
					end++
				}
			}
			if end < 0 {
				return nil, s.need()
			}
			s.pos += end
		case '?':
			if s.depth > 0 && startsWord(rest, "<?xml") {
				return nil, s.resync()
			}
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return nil, s.need()
			}
			s.pos += end + 2
		default:
			if s.depth > 0 && startsWord(rest, "<event") {
				return nil, s.resync()
			}
			end, self := tagEnd(rest)
			if end < 0 {
				return nil, s.need()
			}
			s.pos += end
			if !self {
				s.depth++
			}
		}
		if s.depth <= 0 {
			doc := b[s.start:s.pos]
			s.start = -1
			s.rb.SetDone(s.pos)
			if len(doc) > s.max {
				return nil, ErrTooLarge
			}
			if s.dtd {
				s.dtd = false
				return nil, ErrDTD
			}
			return doc, nil
		}
	}
	return nil, s.need()
}

// resync drops the document in progress when the next one starts inside
// it (an XML declaration or an <event> start tag can only begin a new
// document): the client sent an unterminated event. Without this, one
// truncated event would swallow the rest of the stream.
func (s *Splitter) resync() error {
	s.start, s.depth, s.dtd = -1, 0, false
	s.rb.SetDone(s.pos)
	return fmt.Errorf("%w: unterminated event", ErrMalformed)
}

// startsWord reports whether b starts with w followed by a byte that ends
// a name. It reports false when b is too short to tell.
func startsWord(b []byte, w string) bool {
	if len(b) <= len(w) || string(b[:len(w)]) != w {
		return false
	}
	c := b[len(w)]
	return xmltext.IsSpace(c) || c == '>' || c == '/' || c == '?'
}

// need reports ErrTooLarge when the pending document is over the limit.
func (s *Splitter) need() error {
	pending := s.rb.Buffered()
	if pending > s.max {
		return ErrTooLarge
	}
	return nil
}

// declEnd finds the end of a markup declaration such as <!DOCTYPE …> at
// b[0:2]=="<!", skipping quoted strings and an internal subset in [ ].
// It returns the offset just past the final '>' or -1.
func declEnd(b []byte) int {
	var q byte
	subset := false
	for i := 2; i < len(b); i++ {
		c := b[i]
		if q != 0 {
			if c == q {
				q = 0
			}
			continue
		}
		if c == '<' && bytes.HasPrefix(b[i:], []byte("<!--")) {
			end := bytes.Index(b[i+4:], []byte("-->"))
			if end < 0 {
				return -1
			}
			i += 4 + end + 2
			continue
		}
		switch c {
		case '"', '\'':
			q = c
		case '[':
			subset = true
		case ']':
			subset = false
		case '>':
			if !subset {
				return i + 1
			}
		}
	}
	return -1
}

// tagEnd finds the end of a start tag at b[0]=='<', honouring quoted
// attribute values. It returns the offset just past '>' (or -1) and whether
// the tag is self-closing.
func tagEnd(b []byte) (int, bool) {
	for i := 1; ; {
		at, lt := xmltext.TagEnd(b, i)
		switch {
		case at < 0:
			return -1, false
		case lt:
			i = at + 1 // the splitter only frames: the decoder refuses it
		default:
			return at + 1, b[at-1] == '/'
		}
	}
}
