package cot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
)

// ErrNoElement is returned by DetailText when the detail has no such
// element.
var ErrNoElement = errors.New("no such detail element")

// DetailText returns the character data of the element named name in an
// event's <detail> (from its first start tag to its last end tag), read
// strictly, with no entities beyond XML's own. The node's server-to-server
// messages (chain of command, missions, sustainment) carry their JSON
// this way.
func DetailText(detail []byte, name string) ([]byte, error) {
	open, end := "<"+name+">", "</"+name+">"
	i := bytes.Index(detail, []byte(open))
	j := bytes.LastIndex(detail, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("%w: %s", ErrNoElement, name)
	}
	var txt struct {
		Text []byte `xml:",chardata"`
	}
	dec := xml.NewDecoder(bytes.NewReader(detail[i : j+len(end)]))
	dec.Strict = true
	dec.Entity = nil
	if err := dec.Decode(&txt); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return txt.Text, nil
}
