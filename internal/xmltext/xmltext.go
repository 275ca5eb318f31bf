// Package xmltext is the byte-level core of XML text that the CoT decoder
// and encoder (cot) and the TAK protocol detail scanner (takproto) share:
// which bytes are white space and name bytes, how the five predefined
// entities and numeric character references are resolved, and how text is
// escaped for an attribute value. It knows nothing of CoT; each caller keeps
// its own grammar and wraps these errors in its own.
package xmltext

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// IsSpace reports whether c is XML white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// IsNameByte reports whether c may appear in an element or attribute name.
// Every byte of a multi-byte UTF-8 sequence counts as a name byte.
func IsNameByte(c byte) bool {
	return c == '_' || c == ':' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
}

// maxRef bounds the length of a reference between '&' and ';'. The longest
// one a document needs, "&#x10FFFF;", is far shorter.
const maxRef = 12

// RefError is a reference that cannot be resolved: an '&' with no ';' close
// enough after it (Ref is nil), or a name that is neither a predefined
// entity nor a valid character reference. With no DTD nothing else could
// define it.
type RefError struct {
	Ref []byte
}

func (e *RefError) Error() string {
	if e.Ref == nil {
		return "bad character reference"
	}
	return "undefined entity &" + string(e.Ref) + ";"
}

// AppendUnescaped appends raw with the predefined entities and numeric
// character references resolved. Any other reference is a *RefError.
func AppendUnescaped(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		amp := bytes.IndexByte(raw, '&')
		if amp < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:amp]...)
		raw = raw[amp:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 || semi > maxRef {
			return nil, &RefError{}
		}
		ref := raw[1:semi]
		raw = raw[semi+1:]
		switch string(ref) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			r, ok := CharRef(ref)
			if !ok {
				return nil, &RefError{Ref: ref}
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, nil
}

// CheckRefs verifies that every '&' in text starts a reference that
// AppendUnescaped would resolve, without copying.
func CheckRefs(text []byte) error {
	for {
		amp := bytes.IndexByte(text, '&')
		if amp < 0 {
			return nil
		}
		text = text[amp:]
		semi := bytes.IndexByte(text, ';')
		if semi < 0 || semi > maxRef {
			return &RefError{}
		}
		switch ref := text[1:semi]; string(ref) {
		case "lt", "gt", "amp", "quot", "apos":
		default:
			if _, ok := CharRef(ref); !ok {
				return &RefError{Ref: ref}
			}
		}
		text = text[semi+1:]
	}
}

// CharRef resolves the name of a numeric character reference ("#65",
// "#x41") to a character XML may carry.
func CharRef(ref []byte) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	var n uint64
	var err error
	if ref[1] == 'x' {
		n, err = strconv.ParseUint(string(ref[2:]), 16, 32)
	} else {
		n, err = strconv.ParseUint(string(ref[1:]), 10, 32)
	}
	if err != nil || n == 0 || n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
		return 0, false
	}
	return rune(n), true
}

// AppendEscaped appends s escaped for an XML attribute value or text.
// Control characters XML 1.0 cannot carry are dropped; tab, newline and
// carriage return are written as character references so that attribute
// value normalisation keeps them.
func AppendEscaped[S string | []byte](dst []byte, s S) []byte {
	// Copy runs of plain bytes at once; most values have no special byte.
	plain := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escapes[c] {
			continue
		}
		dst = append(dst, s[plain:i]...)
		plain = i + 1
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\'':
			dst = append(dst, "&apos;"...)
		case '\n':
			dst = append(dst, "&#10;"...)
		case '\r':
			dst = append(dst, "&#13;"...)
		case '\t':
			dst = append(dst, "&#9;"...)
		}
	}
	return append(dst, s[plain:]...)
}

// escapes marks the bytes AppendEscaped does not copy as they are.
var escapes = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range "&<>\"'" {
		t[c] = true
	}
	return t
}()

// TagEnd scans a tag's text from b[from] (past the '<' and usually past
// the name) for the first '>' or '<' outside a quoted attribute value.
// It returns that byte's index and whether it is a '<' (which a tag may
// not hold: callers decide whether that is an error), or -1 when b ends
// first. The splitter of package cot and the XML reader of package
// takproto both find tag ends with it.
func TagEnd(b []byte, from int) (at int, lt bool) {
	var q byte
	for i := from; i < len(b); i++ {
		c := b[i]
		if q != 0 {
			if c == q {
				q = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			q = c
		case '>':
			return i, false
		case '<':
			return i, true
		}
	}
	return -1, false
}
