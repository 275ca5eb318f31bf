package command

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// GeoChat shapes, as ATAK writes them:
//
//	<event uid="GeoChat.<senderUid>.<chatroom>.<messageId>" type="b-t-f" how="h-g-i-g-o">
//	  <detail>
//	    <__chat parent="RootContactGroup" groupOwner="false" messageId="<messageId>"
//	            chatroom="<recipient callsign>" id="<recipient uid>" senderCallsign="<sender callsign>">
//	      <chatgrp uid0="<sender uid>" uid1="<recipient uid>" id="<recipient uid>"/>
//	    </__chat>
//	    <link uid="<sender uid>" type="a-f-G-U-C" relation="p-p"/>
//	    <remarks source="BAO.F.ATAK.<sender uid>" to="<recipient uid>" time="…">text</remarks>
//	    <marti><dest callsign="<recipient callsign>"/></marti>
//	  </detail>
//	</event>
//
// Receipts (b-t-f-d delivered, b-t-f-r read) carry the original messageId
// in <__chatreceipt messageId="…"> (older clients: <__chat messageId="…">),
// with the receipt sender in <link uid=… relation="p-p"/> and chatgrp uid0;
// their event uid is the messageId, sometimes with a suffix.

const (
	typeChat      = "b-t-f"
	typeDelivered = "b-t-f-d"
	typeRead      = "b-t-f-r"
	// typeMarker is the marker published for an order with a point.
	typeMarker = "b-m-p-s-p-i"
	typeRoute  = "b-m-r"
	typeArea   = "u-d-f"
)

// senderUID is the TAK uid of a unit as an order sender.
func senderUID(unitID string) string { return "KIZUNA." + unitID }

// newMessageID returns a random UUID (version 4), as ATAK uses for
// messageId.
func newMessageID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// chatMsg is one direct GeoChat message to a device.
type chatMsg struct {
	SenderUID, SenderCallsign string
	To                        Device
	MessageID                 string
	Text                      string
	At                        time.Time
	Stale                     time.Time
	Point                     *LatLon
}

// buildChat builds a GeoChat event for m with label l.
func buildChat(m chatMsg, l label.Label, node string) (*cot.Event, error) {
	toUID, toCS := m.To.UID, m.To.Callsign
	if toUID == "" {
		toUID = toCS
	}
	if toCS == "" {
		toCS = toUID
	}
	var d bytes.Buffer
	fmt.Fprintf(&d, `<__chat parent="RootContactGroup" groupOwner="false" messageId="%s" chatroom="%s" id="%s" senderCallsign="%s">`,
		cot.Escape(m.MessageID), cot.Escape(toCS), cot.Escape(toUID), cot.Escape(m.SenderCallsign))
	fmt.Fprintf(&d, `<chatgrp uid0="%s" uid1="%s" id="%s"/></__chat>`, cot.Escape(m.SenderUID), cot.Escape(toUID), cot.Escape(toUID))
	fmt.Fprintf(&d, `<link uid="%s" type="a-f-G-U-C" relation="p-p"/>`, cot.Escape(m.SenderUID))
	fmt.Fprintf(&d, `<remarks source="BAO.F.ATAK.%s" to="%s" time="%s">%s</remarks>`,
		cot.Escape(m.SenderUID), cot.Escape(toUID), m.At.UTC().Format(cot.TimeLayout), cot.Escape(m.Text))
	if m.To.Callsign != "" {
		fmt.Fprintf(&d, `<marti><dest callsign="%s"/></marti>`, cot.Escape(m.To.Callsign))
	} else {
		fmt.Fprintf(&d, `<marti><dest uid="%s"/></marti>`, cot.Escape(m.To.UID))
	}
	ev := &cot.Event{
		Version: "2.0",
		UID:     "GeoChat." + m.SenderUID + "." + toCS + "." + m.MessageID,
		Type:    typeChat,
		How:     "h-g-i-g-o",
		Time:    m.At.UTC(),
		Start:   m.At.UTC(),
		Stale:   m.Stale.UTC(),
		Point:   cot.Point{HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown},
	}
	if m.Point != nil {
		ev.Point.Lat, ev.Point.Lon = m.Point.Lat, m.Point.Lon
	}
	if err := ev.SetDetail(d.Bytes()); err != nil {
		return nil, fmt.Errorf("building GeoChat detail: %w", err)
	}
	ev.SetLabel(l)
	ev.Origin.Node = node
	return ev, nil
}

// buildLocation builds the marker, route or area event of an order.
func buildLocation(o *Order, sender string, at time.Time, node string) (*cot.Event, error) {
	loc := o.Location
	c, ok := loc.center()
	if !ok {
		return nil, nil
	}
	name := loc.Name
	if name == "" {
		name = "ORDER " + o.ID
	}
	ev := &cot.Event{
		Version: "2.0",
		UID:     "KIZUNA.order." + o.ID,
		How:     "h-g-i-g-o",
		Time:    at.UTC(),
		Start:   at.UTC(),
		Stale:   o.Deadline.UTC(),
		Point:   cot.Point{Lat: c.Lat, Lon: c.Lon, HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown},
	}
	if !ev.Stale.After(ev.Time) {
		ev.Stale = ev.Time.Add(time.Minute)
	}
	var d bytes.Buffer
	fmt.Fprintf(&d, `<contact callsign="%s"/>`, cot.Escape(name))
	switch {
	case loc.Point != nil:
		ev.Type = typeMarker
		if loc.Point.HAE != 0 {
			ev.Point.HAE = loc.Point.HAE
		}
	case len(loc.Route) > 0:
		ev.Type = typeRoute
		for i, p := range loc.Route {
			fmt.Fprintf(&d, `<link uid="%s.wp%d" callsign="%s" type="b-m-p-w" point="%s" relation="c"/>`,
				cot.Escape(ev.UID), i, fmt.Sprintf("CP%d", i+1), pointAttr(p))
		}
		d.WriteString(`<link_attr planningmethod="Infil" method="Driving" routetype="Primary" direction="Infil" order="Ascending Check Points" prefix="CP" color="-16776961"/>`)
	case len(loc.Area) > 0:
		ev.Type = typeArea
		for _, p := range loc.Area {
			fmt.Fprintf(&d, `<link point="%s"/>`, pointAttr(p))
		}
		fmt.Fprintf(&d, `<link point="%s"/>`, pointAttr(loc.Area[0]))
		d.WriteString(`<strokeColor value="-65536"/><strokeWeight value="3.0"/><fillColor value="822018048"/>`)
	}
	fmt.Fprintf(&d, `<link uid="%s" type="a-f-G-U-C" relation="p-p"/>`, cot.Escape(senderUID(sender)))
	fmt.Fprintf(&d, `<remarks>%s</remarks>`, cot.Escape(fmt.Sprintf("%s %s to %s: %s", o.Type, o.ID, o.Recipient, o.Text)))
	if err := ev.SetDetail(d.Bytes()); err != nil {
		return nil, fmt.Errorf("building order location detail: %w", err)
	}
	ev.SetLabel(o.Label)
	ev.Origin.Node = node
	return ev, nil
}

func pointAttr(p LatLon) string {
	return strconv.FormatFloat(p.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(p.Lon, 'f', -1, 64) + "," + strconv.FormatFloat(p.HAE, 'f', -1, 64)
}

// chatIn is what Observe extracts from an inbound b-t-f* event.
type chatIn struct {
	Type           string // b-t-f, b-t-f-d or b-t-f-r
	MessageID      string
	SenderUID      string
	SenderCallsign string
	Text           string
}

type xChat struct {
	MessageID      string `xml:"messageId,attr"`
	ID             string `xml:"id,attr"`
	Chatroom       string `xml:"chatroom,attr"`
	SenderCallsign string `xml:"senderCallsign,attr"`
	Grp            *struct {
		UID0 string `xml:"uid0,attr"`
	} `xml:"chatgrp"`
}

type xDetail struct {
	Chat    *xChat `xml:"__chat"`
	Receipt *xChat `xml:"__chatreceipt"`
	Links   []struct {
		UID      string `xml:"uid,attr"`
		Relation string `xml:"relation,attr"`
	} `xml:"link"`
	Remarks *struct {
		Source string `xml:"source,attr"`
		Text   string `xml:",chardata"`
	} `xml:"remarks"`
}

// maxChatDetail bounds the detail parsed for chat facts; GeoChat details are
// small, and anything larger is not one of ours.
const maxChatDetail = 64 << 10

// parseChat extracts GeoChat facts from ev. ok is false when ev is not a
// GeoChat message or receipt, or its detail does not parse.
func parseChat(ev *cot.Event) (chatIn, bool) {
	if ev == nil {
		return chatIn{}, false
	}
	switch ev.Type {
	case typeChat, typeDelivered, typeRead:
	default:
		return chatIn{}, false
	}
	if len(ev.Detail) > maxChatDetail {
		return chatIn{}, false
	}
	in := chatIn{Type: ev.Type}
	var d xDetail
	doc := make([]byte, 0, len(ev.Detail)+17)
	doc = append(doc, "<detail>"...)
	doc = append(doc, ev.Detail...)
	doc = append(doc, "</detail>"...)
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	if err := dec.Decode(&d); err != nil {
		return chatIn{}, false
	}
	c := d.Chat
	if ev.Type != typeChat && d.Receipt != nil {
		c = d.Receipt
	}
	if c != nil {
		in.MessageID = strings.TrimSpace(c.MessageID)
		in.SenderCallsign = c.SenderCallsign
		if c.Grp != nil {
			in.SenderUID = c.Grp.UID0
		}
	}
	for _, l := range d.Links {
		if l.Relation == "p-p" && l.UID != "" {
			in.SenderUID = l.UID
			break
		}
	}
	if in.SenderUID == "" && d.Remarks != nil {
		in.SenderUID = strings.TrimPrefix(d.Remarks.Source, "BAO.F.ATAK.")
	}
	if ev.Type == typeChat {
		if d.Remarks == nil {
			return chatIn{}, false
		}
		in.Text = strings.TrimSpace(d.Remarks.Text)
	} else if in.MessageID == "" {
		// A receipt's uid is the messageId, possibly with a suffix.
		id := ev.UID
		for _, suf := range []string{".d", ".r", "-d", "-r"} {
			id = strings.TrimSuffix(id, suf)
		}
		in.MessageID = id
	}
	if in.Callsign() == "" {
		in.SenderCallsign = ev.Callsign
	}
	return in, true
}

// Callsign returns the sender's callsign.
func (c chatIn) Callsign() string { return c.SenderCallsign }

// idAlphabet is Crockford's base32, used for order and grant ids.
const idAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// orderIDLen is the length of an order id: "O" and six characters.
const orderIDLen = 7

// isOrderID reports whether s has the shape of an order id.
func isOrderID(s string) bool {
	if len(s) != orderIDLen || s[0] != 'O' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(idAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// reply is a parsed GeoChat answer to an order.
type reply struct {
	To      State
	OrderID string
	Reason  string
	// Report is the report kind when the reply is a report (SITREP).
	Report string
}

// replyVerbs maps the first word of a reply to a state.
var replyVerbs = map[string]State{
	"ACK":          Acknowledged,
	"ROGER":        Acknowledged,
	"ACKNOWLEDGED": Acknowledged,
	"WILCO":        Wilco,
	"CANTCO":       Cantco,
	"CANT-CO":      Cantco,
	"EXECUTING":    Executing,
	"COMPLETE":     Complete,
	"COMPLETED":    Complete,
	"DONE":         Complete,
	"FAILED":       Failed,
	"SITREP":       Complete,
	"READINESS":    Complete,
}

// parseReply parses "WILCO <id>", "CANTCO <id> <reason>" and the other
// verbs. ok is false for any other text. The id is upper-cased.
func parseReply(text string) (reply, bool) {
	text = strings.TrimSpace(text)
	verb, rest, _ := strings.Cut(text, " ")
	if i := strings.IndexAny(verb, "\t\n\r"); i >= 0 {
		verb, rest = text[:i], text[i+1:]
	}
	st, ok := replyVerbs[strings.ToUpper(strings.Trim(verb, ".,:;!"))]
	if !ok {
		return reply{}, false
	}
	rest = strings.TrimSpace(rest)
	id, reason, _ := strings.Cut(rest, " ")
	if i := strings.IndexAny(id, "\t\n\r"); i >= 0 {
		id, reason = rest[:i], rest[i+1:]
	}
	id = strings.ToUpper(strings.Trim(id, "#.,:;!()[]"))
	if !isOrderID(id) {
		return reply{}, false
	}
	r := reply{To: st, OrderID: id, Reason: strings.TrimSpace(strings.TrimLeft(reason, ":,- "))}
	if v := strings.ToUpper(strings.Trim(verb, ".,:;!")); v == "SITREP" || v == "READINESS" {
		if r.Reason == "" {
			return reply{}, false
		}
		r.Report = v
	}
	return r, true
}

// DeviceResponses builds what an ATAK operator's device sends for a
// GeoChat order it received from unit from: a delivery receipt (b-t-f-d),
// a read receipt (b-t-f-r) and, when answer is not empty, a GeoChat reply
// with that text (for example "WILCO O1AB2CD"). Simulators and tests use it.
func DeviceResponses(dev Device, from *Unit, messageID, answer string, now time.Time) []*cot.Event {
	fromUID, fromCS := senderUID(from.ID), from.callsign()
	var out []*cot.Event
	for _, typ := range []string{typeDelivered, typeRead} {
		var d bytes.Buffer
		fmt.Fprintf(&d, `<__chatreceipt parent="RootContactGroup" groupOwner="false" messageId="%s" chatroom="%s" id="%s" senderCallsign="%s">`,
			cot.Escape(messageID), cot.Escape(fromCS), cot.Escape(fromUID), cot.Escape(dev.Callsign))
		fmt.Fprintf(&d, `<chatgrp uid0="%s" uid1="%s" id="%s"/></__chatreceipt>`, cot.Escape(dev.UID), cot.Escape(fromUID), cot.Escape(fromUID))
		fmt.Fprintf(&d, `<link uid="%s" type="a-f-G-U-C" relation="p-p"/>`, cot.Escape(dev.UID))
		fmt.Fprintf(&d, `<marti><dest callsign="%s"/></marti>`, cot.Escape(fromCS))
		ev := &cot.Event{Version: "2.0", UID: messageID, Type: typ, How: "h-g-i-g-o", Time: now.UTC(), Start: now.UTC(), Stale: now.Add(time.Hour).UTC(),
			Point: cot.Point{HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown}}
		if err := ev.SetDetail(d.Bytes()); err == nil {
			out = append(out, ev)
		}
	}
	if answer = strings.TrimSpace(answer); answer != "" {
		ev, err := buildChat(chatMsg{SenderUID: dev.UID, SenderCallsign: dev.Callsign, To: Device{UID: fromUID, Callsign: fromCS},
			MessageID: newMessageID(), Text: answer, At: now, Stale: now.Add(time.Hour)}, label.Label{}, "")
		if err == nil {
			ev.Access, ev.ReleasableTo, ev.Caveat, ev.Origin = "", "", "", cot.Origin{}
			out = append(out, ev)
		}
	}
	return out
}
