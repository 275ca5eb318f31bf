package takproto

import (
	"bytes"
	"errors"

	"kizuna/internal/xmltext"
)

// This file holds a small scanner for the children of a <detail> element.
// It is not a validator: the cot package validates every detail. It finds
// the top-level elements of a fragment, their attributes and their
// content, so that whole elements can be moved between xmlDetail and the
// typed Detail fields.

var errScan = errors.New("unexpected markup in detail")

// element is one top-level element of a fragment, as offsets into it.
type element struct {
	name        []byte
	start, end  int    // the whole element, from '<' to just past its end
	attrs       []byte // the attribute text of the start tag
	content     []byte // the content between start and end tag
	selfClosing bool
}

// elemScanner walks the top-level elements of b.
type elemScanner struct {
	b []byte
	i int
}

// skipMarkup skips a comment, CDATA section or processing instruction at
// b[i] == '<'. It reports false when b[i:] starts none of them.
func skipMarkup(b []byte, i int) (int, bool, error) {
	rest := b[i:]
	var open, close string
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		open, close = "<!--", "-->"
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		open, close = "<![CDATA[", "]]>"
	case bytes.HasPrefix(rest, []byte("<?")):
		open, close = "<?", "?>"
	case bytes.HasPrefix(rest, []byte("<!")):
		return 0, false, errScan
	default:
		return 0, false, nil
	}
	end := bytes.Index(rest[len(open):], []byte(close))
	if end < 0 {
		return 0, false, errScan
	}
	return i + len(open) + end + len(close), true, nil
}

// startTag reads the start tag at b[i] == '<'. It returns the name, the
// attribute text, the offset just past '>' and whether it self-closes.
func startTag(b []byte, i int) (name, attrs []byte, next int, selfClosing bool, err error) {
	j := i + 1
	for j < len(b) && xmltext.IsNameByte(b[j]) {
		j++
	}
	if j == i+1 {
		return nil, nil, 0, false, errScan
	}
	name = b[i+1 : j]
	k, lt := xmltext.TagEnd(b, j)
	if k < 0 || lt {
		return nil, nil, 0, false, errScan
	}
	if b[k-1] == '/' && k-1 >= j {
		return name, b[j : k-1], k + 1, true, nil
	}
	return name, b[j:k], k + 1, false, nil
}

// next returns the next top-level element; ok is false at the end of b.
func (s *elemScanner) next() (el element, ok bool, err error) {
	for {
		lt := bytes.IndexByte(s.b[s.i:], '<')
		if lt < 0 {
			s.i = len(s.b)
			return element{}, false, nil
		}
		s.i += lt
		n, skipped, err := skipMarkup(s.b, s.i)
		if err != nil {
			return element{}, false, err
		}
		if skipped {
			s.i = n
			continue
		}
		if s.i+1 < len(s.b) && s.b[s.i+1] == '/' {
			return element{}, false, errScan
		}
		break
	}
	el.start = s.i
	name, attrs, i, sc, err := startTag(s.b, s.i)
	if err != nil {
		return element{}, false, err
	}
	el.name, el.attrs, el.selfClosing = name, attrs, sc
	if sc {
		s.i, el.end = i, i
		return el, true, nil
	}
	contentStart := i
	depth := 1
	for {
		lt := bytes.IndexByte(s.b[i:], '<')
		if lt < 0 {
			return element{}, false, errScan
		}
		i += lt
		n, skipped, err := skipMarkup(s.b, i)
		if err != nil {
			return element{}, false, err
		}
		if skipped {
			i = n
			continue
		}
		if i+1 < len(s.b) && s.b[i+1] == '/' {
			gt := bytes.IndexByte(s.b[i:], '>')
			if gt < 0 {
				return element{}, false, errScan
			}
			depth--
			if depth == 0 {
				el.content = s.b[contentStart:i]
				el.end = i + gt + 1
				s.i = el.end
				return el, true, nil
			}
			i += gt + 1
			continue
		}
		_, _, n, sc, err := startTag(s.b, i)
		if err != nil {
			return element{}, false, err
		}
		if !sc {
			depth++
		}
		i = n
	}
}

// attrScanner walks the attributes of a start tag.
type attrScanner struct {
	b []byte
	i int
}

// next returns the next attribute with its raw (still escaped) value.
func (a *attrScanner) next() (name, raw []byte, ok bool, err error) {
	for a.i < len(a.b) && xmltext.IsSpace(a.b[a.i]) {
		a.i++
	}
	if a.i == len(a.b) {
		return nil, nil, false, nil
	}
	st := a.i
	for a.i < len(a.b) && xmltext.IsNameByte(a.b[a.i]) {
		a.i++
	}
	if a.i == st {
		return nil, nil, false, errScan
	}
	name = a.b[st:a.i]
	for a.i < len(a.b) && xmltext.IsSpace(a.b[a.i]) {
		a.i++
	}
	if a.i == len(a.b) || a.b[a.i] != '=' {
		return nil, nil, false, errScan
	}
	a.i++
	for a.i < len(a.b) && xmltext.IsSpace(a.b[a.i]) {
		a.i++
	}
	if a.i == len(a.b) || (a.b[a.i] != '"' && a.b[a.i] != '\'') {
		return nil, nil, false, errScan
	}
	q := a.b[a.i]
	a.i++
	end := bytes.IndexByte(a.b[a.i:], q)
	if end < 0 {
		return nil, nil, false, errScan
	}
	raw = a.b[a.i : a.i+end]
	a.i += end + 1
	return name, raw, true, nil
}

// appendUnescaped appends raw with the predefined entities and character
// references resolved, as the cot decoder resolves them (both use xmltext).
func appendUnescaped(dst, raw []byte) ([]byte, error) {
	dst, err := xmltext.AppendUnescaped(dst, raw)
	if err != nil {
		return nil, errScan
	}
	return dst, nil
}
