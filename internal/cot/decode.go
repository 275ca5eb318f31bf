package cot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"kizuna/internal/xmltext"
)

// Decode parses one complete CoT event document. Leading whitespace, a
// byte-order mark, <?xml …?> declarations and comments are allowed; DTDs and
// entity declarations are refused. The returned event has passed Validate.
// Decode does not retain b: every field is copied.
func Decode(b []byte) (*Event, error) {
	e, err := DecodeUnchecked(b)
	if err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		if e.UID != "" {
			return nil, fmt.Errorf("event %s: %w", e.UID, err)
		}
		return nil, err
	}
	return e, nil
}

// DecodeUnchecked parses like Decode but does not run Validate, for callers
// (such as protocol negotiation) that handle control messages.
func DecodeUnchecked(b []byte) (*Event, error) {
	if len(b) > MaxEventSize {
		return nil, ErrTooLarge
	}
	if !validChars(b) {
		return nil, malformed("invalid UTF-8 or control character")
	}
	s := scanner{b: b}
	if err := s.prolog(); err != nil {
		return nil, err
	}
	e := &Event{Course: math.NaN(), Speed: math.NaN()}
	e.Point.Lat, e.Point.Lon = math.NaN(), math.NaN()
	if err := s.event(e); err != nil {
		return nil, err
	}
	if err := s.epilog(); err != nil {
		return nil, err
	}
	return e, nil
}

type scanner struct {
	b   []byte
	i   int
	buf []byte // scratch for attribute unescaping

	// strip makes content record every __origin element it meets, at any
	// depth, in cuts (absolute offsets [start, end) into b).
	strip bool
	cuts  [][2]int
}

// attrSet detects a repeated attribute name in one tag: XML forbids it,
// and a filter that reads the first of two values would disagree with one
// that reads the last. Names alias the scanned document b, so the set
// keeps only each name's offset and a signature (length, first and last
// byte) that rules out most comparisons; it stays small on the stack.
type attrSet struct {
	sig  [8]uint32
	off  [8]uint32
	n    int
	more [][]byte
}

// add records name (a slice of b) and reports false when the tag already
// had it.
func (a *attrSet) add(b, name []byte) bool {
	if len(name) == 0 {
		return true
	}
	sig := uint32(len(name))<<16 | uint32(name[0])<<8 | uint32(name[len(name)-1])
	for i := 0; i < a.n; i++ {
		if a.sig[i] == sig {
			o := a.off[i]
			if string(b[o:o+uint32(len(name))]) == string(name) {
				return false
			}
		}
	}
	for _, m := range a.more {
		if string(m) == string(name) {
			return false
		}
	}
	if a.n < len(a.sig) {
		a.sig[a.n] = sig
		a.off[a.n] = uint32(cap(b) - cap(name))
		a.n++
	} else {
		a.more = append(a.more, name)
	}
	return true
}

// eventAttrBit gives each attribute of <event> that Kizuna reads its own
// bit, for the duplicate check; both spellings of the releasability
// attribute share one, so that giving both is a duplicate. Others give 0.
func eventAttrBit(name []byte) uint32 {
	switch string(name) {
	case "version":
		return 1 << 0
	case "uid":
		return 1 << 1
	case "type":
		return 1 << 2
	case "how":
		return 1 << 3
	case "time":
		return 1 << 4
	case "start":
		return 1 << 5
	case "stale":
		return 1 << 6
	case "qos":
		return 1 << 7
	case "opex":
		return 1 << 8
	case "access":
		return 1 << 9
	case "caveat":
		return 1 << 10
	case "releasableTo", "releaseableTo":
		return 1 << 11
	}
	return 0
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// validChars reports whether b is UTF-8 without the control characters
// XML 1.0 forbids (all below 0x20 except tab, newline and carriage return).
// Both encoders could not carry them faithfully: XML drops them and
// protobuf requires UTF-8.
func validChars(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		// A word-at-a-time test for a byte below 0x20, then a precise look.
		w := binary.LittleEndian.Uint64(b[i:])
		if (w-0x2020202020202020)&^w&0x8080808080808080 != 0 && !plainChars(b[i:i+8]) {
			return false
		}
	}
	return plainChars(b[i:])
}

func plainChars(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) && xmltext.IsSpace(s.b[s.i]) {
		s.i++
	}
}

// misc skips whitespace, comments and processing instructions. It refuses
// <!DOCTYPE and any other markup declaration.
func (s *scanner) misc() error {
	for {
		s.skipSpace()
		rest := s.b[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return malformed("unterminated processing instruction")
			}
			s.i += end + 2
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return malformed("unterminated comment")
			}
			s.i += 4 + end + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			return ErrDTD
		default:
			return nil
		}
	}
}

func (s *scanner) prolog() error {
	if bytes.HasPrefix(s.b, []byte("\xef\xbb\xbf")) {
		s.i = 3
	}
	return s.misc()
}

func (s *scanner) epilog() error {
	if err := s.misc(); err != nil {
		return err
	}
	if s.i != len(s.b) {
		return malformed("content after root element")
	}
	return nil
}

// name reads an XML name at s.i.
func (s *scanner) name() ([]byte, error) {
	st := s.i
	for s.i < len(s.b) && xmltext.IsNameByte(s.b[s.i]) {
		s.i++
	}
	if s.i == st {
		return nil, malformed("expected name at offset %d", st)
	}
	return s.b[st:s.i], nil
}

// attr reads one attribute (name="value") or reports the end of the tag.
// It returns done=true with selfClose set when it reaches '>' or '/>'.
// The value is unescaped into s.buf when it holds references; otherwise it
// aliases s.b.
func (s *scanner) attr() (name, val []byte, done, selfClose bool, err error) {
	s.skipSpace()
	if s.i >= len(s.b) {
		return nil, nil, false, false, malformed("unterminated tag")
	}
	switch s.b[s.i] {
	case '>':
		s.i++
		return nil, nil, true, false, nil
	case '/':
		if s.i+1 < len(s.b) && s.b[s.i+1] == '>' {
			s.i += 2
			return nil, nil, true, true, nil
		}
		return nil, nil, false, false, malformed("stray '/' in tag")
	}
	st := s.i
	name, err = s.name()
	if err != nil {
		return
	}
	if s.i == st {
		return nil, nil, false, false, malformed("bad attribute")
	}
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '=' {
		return nil, nil, false, false, malformed("attribute %s without value", name)
	}
	s.i++
	s.skipSpace()
	if s.i >= len(s.b) || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		return nil, nil, false, false, malformed("attribute %s value not quoted", name)
	}
	q := s.b[s.i]
	s.i++
	end := bytes.IndexByte(s.b[s.i:], q)
	if end < 0 {
		return nil, nil, false, false, malformed("unterminated attribute %s", name)
	}
	raw := s.b[s.i : s.i+end]
	s.i += end + 1
	if bytes.IndexByte(raw, '<') >= 0 {
		return nil, nil, false, false, malformed("'<' in attribute %s", name)
	}
	if bytes.IndexByte(raw, '&') < 0 {
		return name, raw, false, false, nil
	}
	s.buf, err = unescape(s.buf[:0], raw)
	if err != nil {
		return nil, nil, false, false, err
	}
	return name, s.buf, false, false, nil
}

// unescape appends raw with the five predefined entities and numeric
// character references resolved. Any other reference is malformed: with no
// DTD there is nothing that could define it.
func unescape(dst, raw []byte) ([]byte, error) {
	dst, err := xmltext.AppendUnescaped(dst, raw)
	if err != nil {
		return nil, malformed("%v", err)
	}
	return dst, nil
}

// checkRefs verifies every '&' in text starts a valid reference.
func checkRefs(text []byte) error {
	if err := xmltext.CheckRefs(text); err != nil {
		return malformed("%v in text", err)
	}
	return nil
}

// content scans element content up to and including the end tag of the
// element named open. It validates nesting. For each direct child it calls
// child(name, start, tagEnd, selfClose) with offsets into s.b: start is at
// '<', tagEnd just after the start tag's '>'. If child returns handled=true
// it must itself have consumed the child (s.i past its end).
//
// Long on purpose: the element-content grammar (text, references, comments,
// CDATA, child and end tags) read top to bottom in one loop on the decode hot
// path.
func (s *scanner) content(open []byte, child func(name []byte, start int, selfClose bool) (bool, error)) error {
	type span struct{ a, b, cut int }
	var stackArr [16]span
	stack := stackArr[:0]
	for {
		lt := bytes.IndexByte(s.b[s.i:], '<')
		if lt < 0 {
			return malformed("unterminated element %s", open)
		}
		if err := checkRefs(s.b[s.i : s.i+lt]); err != nil {
			return err
		}
		s.i += lt
		rest := s.b[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("</")):
			s.i += 2
			st := s.i
			nm, err := s.name()
			if err != nil {
				return err
			}
			_ = st
			s.skipSpace()
			if s.i >= len(s.b) || s.b[s.i] != '>' {
				return malformed("bad end tag %s", nm)
			}
			s.i++
			if len(stack) == 0 {
				if !bytes.Equal(nm, open) {
					return malformed("end tag %s does not match %s", nm, open)
				}
				return nil
			}
			top := stack[len(stack)-1]
			if !bytes.Equal(nm, s.b[top.a:top.b]) {
				return malformed("end tag %s does not match %s", nm, s.b[top.a:top.b])
			}
			if top.cut >= 0 {
				s.cuts[top.cut][1] = s.i
			}
			stack = stack[:len(stack)-1]
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return malformed("unterminated comment")
			}
			s.i += 4 + end + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				return malformed("unterminated CDATA")
			}
			s.i += 9 + end + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			return ErrDTD
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return malformed("unterminated processing instruction")
			}
			s.i += end + 2
		default:
			start := s.i
			s.i++
			nmStart := s.i
			nm, err := s.name()
			if err != nil {
				return err
			}
			nmEnd := s.i
			if len(stack) == 0 && child != nil {
				// Let the caller look at the attributes first: rewind so it
				// can re-read the tag from start.
				s.i = start
				handled, err := child(nm, start, false)
				if err != nil {
					return err
				}
				if handled {
					continue
				}
				s.i = nmEnd
			}
			var selfClose bool
			var seen attrSet
			for {
				an, _, done, sc, err := s.attr()
				if err != nil {
					return err
				}
				if done {
					selfClose = sc
					break
				}
				if !seen.add(s.b, an) {
					return malformed("duplicate attribute %s", an)
				}
			}
			cut := -1
			if s.strip && string(nm) == "__origin" {
				// A server stamp a client tried to hide below the top
				// level of <detail>: cut it out like a top-level one.
				cut = len(s.cuts)
				s.cuts = append(s.cuts, [2]int{start, s.i})
			}
			if !selfClose {
				if len(stack) >= 64 {
					return malformed("nesting too deep")
				}
				stack = append(stack, span{nmStart, nmEnd, cut})
			}
		}
	}
}

// event parses the root <event> element.
func (s *scanner) event(e *Event) error {
	if s.i >= len(s.b) || s.b[s.i] != '<' {
		return malformed("no root element")
	}
	s.i++
	nm, err := s.name()
	if err != nil {
		return err
	}
	if string(nm) != "event" {
		return fmt.Errorf("%w: <%s>", ErrNotEvent, nm)
	}
	var known uint32
	var other attrSet
	for {
		name, val, done, selfClose, err := s.attr()
		if err != nil {
			return err
		}
		if done {
			if selfClose {
				return nil
			}
			break
		}
		if bit := eventAttrBit(name); bit != 0 {
			if known&bit != 0 {
				return malformed("duplicate attribute %s", name)
			}
			known |= bit
		} else if !other.add(s.b, name) {
			return malformed("duplicate attribute %s", name)
		}
		if err := e.setAttr(name, val); err != nil {
			return err
		}
	}
	return s.content(nm, func(name []byte, start int, _ bool) (bool, error) {
		switch string(name) {
		case "point":
			return true, s.point(e)
		case "detail":
			return true, s.detail(e)
		}
		return false, nil
	})
}

func (e *Event) setAttr(name, val []byte) error {
	var err error
	switch string(name) {
	case "version":
		e.Version = intern(val)
	case "uid":
		e.UID = string(val)
	case "type":
		e.Type = intern(val)
	case "how":
		e.How = intern(val)
	case "time":
		e.Time, err = parseTime(val)
	case "start":
		e.Start, err = parseTime(val)
	case "stale":
		e.Stale, err = parseTime(val)
	case "qos":
		e.QoS = string(val)
	case "opex":
		e.Opex = string(val)
	case "access":
		e.Access = intern(val)
	case "caveat":
		e.Caveat = string(val)
	case "releasableTo", "releaseableTo":
		e.ReleasableTo = string(val)
	}
	if err != nil {
		return fmt.Errorf("%w: %s=%q", ErrTime, name, val)
	}
	return nil
}

// intern returns the most frequent attribute values without allocating a
// string for each event.
func intern(b []byte) string {
	switch string(b) {
	case "2.0":
		return "2.0"
	case "m-g":
		return "m-g"
	case "h-e":
		return "h-e"
	case "h-g-i-g-o":
		return "h-g-i-g-o"
	case "m-s":
		return "m-s"
	case "a-f-G-U-C":
		return "a-f-G-U-C"
	case "a-f-G":
		return "a-f-G"
	case "a-h-G":
		return "a-h-G"
	case "a-n-G":
		return "a-n-G"
	case "a-u-G":
		return "a-u-G"
	case "b-t-f":
		return "b-t-f"
	case "t-x-c-t":
		return "t-x-c-t"
	case "UNCLASSIFIED":
		return "UNCLASSIFIED"
	case "CONFIDENTIAL":
		return "CONFIDENTIAL"
	case "SECRET":
		return "SECRET"
	case "TOP SECRET":
		return "TOP SECRET"
	}
	return string(b)
}

// skipTag moves past the start tag at s.i (which is at '<'), returning
// whether it was self-closing, calling f for each attribute.
func (s *scanner) tag(f func(name, val []byte) error) (selfClose bool, err error) {
	s.i++
	if _, err := s.name(); err != nil {
		return false, err
	}
	var seen attrSet
	for {
		name, val, done, sc, err := s.attr()
		if err != nil {
			return false, err
		}
		if done {
			return sc, nil
		}
		if !seen.add(s.b, name) {
			return false, malformed("duplicate attribute %s", name)
		}
		if f != nil {
			if err := f(name, val); err != nil {
				return false, err
			}
		}
	}
}

func (s *scanner) point(e *Event) error {
	p := Point{Lat: math.NaN(), Lon: math.NaN(), HAE: Unknown, CE: Unknown, LE: Unknown}
	nameAt := s.i + 1
	sc, err := s.tag(func(name, val []byte) error {
		v, err := strconv.ParseFloat(string(val), 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			switch string(name) {
			case "lat", "lon", "hae", "ce", "le":
				return fmt.Errorf("%w: point %s=%q", ErrCoordinates, name, val)
			}
			return nil
		}
		switch string(name) {
		case "lat":
			p.Lat = v
		case "lon":
			p.Lon = v
		case "hae":
			p.HAE = v
		case "ce":
			p.CE = v
		case "le":
			p.LE = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) {
		return ErrMissingPoint
	}
	e.Point = p
	if !sc {
		return s.content(s.b[nameAt:nameAt+5], nil)
	}
	return nil
}

// detail captures the inner XML of <detail> verbatim and extracts the
// facts the node needs. Any top-level __origin child is cut out.
//
// Long on purpose: one pass over <detail> that both copies it verbatim and
// picks out each fact the node needs; the children it knows are cases of one
// switch.
func (s *scanner) detail(e *Event) error {
	e.HasDetail = true
	nameAt := s.i + 1
	sc, err := s.tag(nil)
	if err != nil || sc {
		return err
	}
	inner := s.i
	s.strip, s.cuts = true, s.cuts[:0]
	defer func() { s.strip = false }()
	err = s.content(s.b[nameAt:nameAt+6], func(name []byte, start int, _ bool) (bool, error) {
		switch string(name) {
		case "contact":
			return true, s.known(func(n, v []byte) {
				if string(n) == "callsign" {
					e.Callsign = string(v)
				}
			})
		case "link":
			var l Link
			err := s.known(func(n, v []byte) {
				switch string(n) {
				case "uid":
					l.UID = string(v)
				case "type":
					l.Type = string(v)
				case "relation":
					l.Relation = string(v)
				}
			})
			e.Links = append(e.Links, l)
			return true, err
		case "track":
			return true, s.known(func(n, v []byte) {
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					return
				}
				switch string(n) {
				case "course":
					e.Course = f
				case "speed":
					e.Speed = f
				}
			})
		case "__origin":
			var o Origin
			err := s.known(func(n, v []byte) {
				switch string(n) {
				case "nation":
					o.Nation = string(v)
				case "node":
					o.Node = string(v)
				}
			})
			e.Origin = o
			s.cuts = append(s.cuts, [2]int{start, s.i})
			return true, err
		case "marti":
			return true, s.marti(e)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// s.i is past </detail>; find where the inner part ends.
	end := bytes.LastIndex(s.b[inner:s.i], []byte("</"))
	raw := s.b[inner : inner+end]
	if len(s.cuts) == 0 {
		e.Detail = bytes.Clone(raw)
		return nil
	}
	// Cuts are recorded where each element starts; a top-level __origin
	// is recorded after the ones nested in it. Cut the outermost ones.
	slices.SortFunc(s.cuts, func(a, b [2]int) int { return a[0] - b[0] })
	out := make([]byte, 0, len(raw))
	prev := 0
	for _, c := range s.cuts {
		a, b := c[0]-inner, c[1]-inner
		if a < prev {
			continue // inside one already cut
		}
		out = append(out, raw[prev:a]...)
		prev = b
	}
	e.Detail = append(out, raw[prev:]...)
	return nil
}

// known reads a child element at s.i, calling f for each attribute, and
// skips its content.
func (s *scanner) known(f func(name, val []byte)) error {
	nameAt := s.i + 1
	sc, err := s.tag(func(n, v []byte) error { f(n, v); return nil })
	if err != nil || sc {
		return err
	}
	nameEnd := nameAt
	for nameEnd < len(s.b) && xmltext.IsNameByte(s.b[nameEnd]) {
		nameEnd++
	}
	return s.content(s.b[nameAt:nameEnd], nil)
}

func (s *scanner) marti(e *Event) error {
	nameAt := s.i + 1
	sc, err := s.tag(nil)
	if err != nil || sc {
		return err
	}
	return s.content(s.b[nameAt:nameAt+5], func(name []byte, start int, _ bool) (bool, error) {
		if string(name) != "dest" {
			return false, nil
		}
		var d Dest
		err := s.known(func(n, v []byte) {
			switch string(n) {
			case "callsign":
				d.Callsign = string(v)
			case "uid":
				d.UID = string(v)
			case "mission":
				d.Mission = string(v)
			}
		})
		e.Dests = append(e.Dests, d)
		return true, err
	})
}

// parseTime accepts ISO 8601 / RFC 3339 timestamps as CoT uses them, with or
// without fractional seconds, with Z or a numeric offset.
func parseTime(b []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		// Some producers omit the zone; CoT times are UTC.
		t, err = time.Parse("2006-01-02T15:04:05.999999999", string(b))
		if err != nil {
			return time.Time{}, err
		}
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year %d out of range", t.Year())
	}
	return t.UTC(), nil
}

var detailDocs = sync.Pool{New: func() any { return new([]byte) }}

// SetDetail validates inner as the content of a <detail> element, stores
// it as e.Detail (minus any __origin, which fills e.Origin) and extracts the
// facts the node needs. Other wire formats (TAK protobuf's xmlDetail) use it
// so that their detail passes exactly the checks of the XML decoder.
func (e *Event) SetDetail(inner []byte) error {
	if len(inner) > MaxEventSize {
		return ErrTooLarge
	}
	if !validChars(inner) {
		return malformed("invalid UTF-8 or control character")
	}
	// The wrapped copy is scratch: the scanner copies all it keeps.
	bp := detailDocs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			detailDocs.Put(bp)
		}
	}()
	doc := append((*bp)[:0], "<detail>"...)
	doc = append(doc, inner...)
	doc = append(doc, "</detail>"...)
	*bp = doc
	e.Callsign, e.Dests, e.Links = "", nil, nil
	e.Course, e.Speed = math.NaN(), math.NaN()
	s := scanner{b: doc}
	if err := s.detail(e); err != nil {
		return err
	}
	if s.i != len(doc) {
		return malformed("content after detail")
	}
	return nil
}
