package cot

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// Auth is the <auth><cot username=… password=… uid=…/></auth> message ATAK
// may send first on a stream. Kizuna never takes identity from it: the
// principal comes from the listener or the client certificate.
type Auth struct {
	Username string
	UID      string
	// HasPassword reports whether a password was sent; the password itself
	// is never kept.
	HasPassword bool
}

// IsAuth reports whether doc (one document from the Splitter, declaration
// already skipped) is an <auth> message rather than an event.
func IsAuth(doc []byte) bool {
	doc = bytes.TrimLeft(doc, " \t\r\n")
	if !bytes.HasPrefix(doc, []byte("<auth")) || len(doc) < 6 {
		return false
	}
	switch doc[5] {
	case ' ', '\t', '\r', '\n', '>', '/':
		return true
	}
	return false
}

// ParseAuth reads an <auth> message. DTDs are refused by the Splitter
// before a document reaches here; encoding/xml expands no external
// entities.
func ParseAuth(doc []byte) (Auth, error) {
	var m struct {
		XMLName xml.Name `xml:"auth"`
		Cot     struct {
			Username string `xml:"username,attr"`
			Password string `xml:"password,attr"`
			UID      string `xml:"uid,attr"`
		} `xml:"cot"`
	}
	if err := xml.Unmarshal(doc, &m); err != nil {
		return Auth{}, fmt.Errorf("%w: auth message: %v", ErrMalformed, err)
	}
	return Auth{Username: m.Cot.Username, UID: m.Cot.UID, HasPassword: m.Cot.Password != ""}, nil
}
