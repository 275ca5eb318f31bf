package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// DemoStep is one order of the demonstration exercise on the demo ORBAT.
type DemoStep struct {
	Principal label.Principal
	Request   IssueRequest
	// Answer is what the recipient's simulated device replies: WILCO or
	// CANTCO (with Reason).
	Answer State
	Reason string
}

// DemoScript returns the demonstration exercise: orders along the demo
// ORBAT's standing grants (OPCON of USFJ, TACON of JJOC, direct support
// of the Fleet Escort Force, national chains of JPN and KOR, ADCON of 7th
// Fleet) and one order that is refused for lack of authority.
func DemoScript() []DemoStep {
	secret := func(n string) label.Principal { return label.Principal{Nation: n, Clearance: label.Secret} }
	return []DemoStep{
		{Principal: secret("USA"), Answer: Wilco, Request: IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", DeadlineIn: "2h",
			Text:     "Establish an anti-ship missile battery on Miyako-jima and report ready to fire",
			Location: &Location{Name: "Miyako", Area: []LatLon{{Lat: 24.70, Lon: 125.25}, {Lat: 24.82, Lon: 125.28}, {Lat: 24.78, Lon: 125.45}, {Lat: 24.70, Lon: 125.40}}}}},
		{Principal: secret("JPN"), Answer: Wilco, Request: IssueRequest{As: "jjoc", Recipient: "12mlr", Type: "MOVEMENT", DeadlineIn: "90m",
			Text:     "Displace by road to the Ishigaki dispersal site along the coastal route",
			Location: &Location{Name: "Ishigaki", Route: []LatLon{{Lat: 24.34, Lon: 124.15}, {Lat: 24.39, Lon: 124.20}, {Lat: 24.43, Lon: 124.24}}}}},
		{Principal: secret("USA"), Answer: Wilco, Request: IssueRequest{As: "usfj", Recipient: "escort-force", Type: "SUPPORT_REQUEST", DeadlineIn: "3h",
			Text: "Request escort of the amphibious ready group from White Beach to the Miyako Strait"}},
		{Principal: secret("USA"), Answer: Wilco, Request: IssueRequest{As: "usfj", Recipient: "35fw", Type: "TASK", DeadlineIn: "1h",
			Text: "Maintain a two-ship combat air patrol over the Miyako Strait", Location: &Location{Name: "CAP Miyako", Point: &LatLon{Lat: 24.95, Lon: 125.90}}}},
		{Principal: secret("JPN"), Answer: Cantco, Reason: "LCAC down for maintenance until tomorrow", Request: IssueRequest{As: "jjoc", Recipient: "ardb", Type: "TASK", DeadlineIn: "2h",
			Text: "Prepare an amphibious rehearsal at Ainoura", Location: &Location{Point: &LatLon{Lat: 33.18, Lon: 129.66}}}},
		{Principal: secret("KOR"), Answer: Wilco, Request: IssueRequest{As: "rok-jcs", Recipient: "rok-noc", Type: "REPORT_REQUEST", DeadlineIn: "30m",
			Text: "Report missile-warning picket positions in the East Sea"}},
		{Principal: secret("USA"), Answer: Wilco, Request: IssueRequest{As: "c7f", Recipient: "ctf70", Type: "REPORT_REQUEST", DeadlineIn: "45m",
			Text: "Report personnel and maintenance readiness"}},
		// Refused: JJOC holds no TACON of the 31st MEU.
		{Principal: secret("JPN"), Answer: Wilco, Request: IssueRequest{As: "jjoc", Recipient: "31meu", Type: "MOVEMENT", DeadlineIn: "1h",
			Text: "Move to Camp Hansen"}},
	}
}

// DemoConfig configures RunDemo.
type DemoConfig struct {
	// Every is the pause between two orders (default 20s).
	Every time.Duration
	// Simulate makes the recipient units' devices answer in-process: each
	// device sends a delivery and a read receipt and the first one the
	// step's answer (then EXECUTING and COMPLETE after a WILCO), as GeoChat
	// through Observe, exactly as a TAK client's events would arrive. Leave it off when real or simulated TAK clients
	// are connected for those devices.
	Simulate bool
	// AnswerAfter is how long a simulated device waits before answering
	// (default 3s).
	AnswerAfter time.Duration
}

// RunDemo plays DemoScript in a loop until ctx is done, issuing each order
// through the same path as the REST API. Refusals are expected (they show
// in the audit log) and do not stop it.
func (s *Service) RunDemo(ctx context.Context, cfg DemoConfig) error {
	if cfg.Every <= 0 {
		cfg.Every = 20 * time.Second
	}
	if cfg.AnswerAfter <= 0 {
		cfg.AnswerAfter = 3 * time.Second
	}
	script := DemoScript()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	for i := 0; ; i++ {
		step := script[i%len(script)]
		o, err := s.Issue(ctx, step.Principal, step.Request)
		var ae *AuthorityError
		switch {
		case errors.As(err, &ae):
			s.log.Info("demo: order refused", "issuer", step.Request.As, "recipient", step.Request.Recipient, "reason", ae.Decision.Reason)
		case err != nil:
			s.log.Warn("demo: issuing order", "err", err)
		default:
			s.log.Info("demo: order issued", "order", o.ID, "type", o.Type, "issuer", o.IssuerUnit, "recipient", o.Recipient)
			if cfg.Simulate {
				s.simulateAnswers(ctx, o, step, cfg.AnswerAfter)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// simulateAnswers feeds the receipts and answer of the recipient's devices
// through Observe after a delay.
func (s *Service) simulateAnswers(ctx context.Context, o *Order, step DemoStep, after time.Duration) {
	s.mu.Lock()
	recipient := s.unitCopy(o.Recipient)
	issuer := s.unitCopy(o.IssuerUnit)
	s.mu.Unlock()
	if recipient == nil || issuer == nil {
		return
	}
	from := label.Principal{Nation: recipient.Nation, Clearance: o.Label.Classification}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(after):
		}
		now := s.clock()
		for i, dl := range o.Deliveries {
			dev := Device{UID: dl.DeviceUID, Callsign: dl.Callsign}
			answer := ""
			if i == 0 {
				answer = fmt.Sprintf("%s %s %s", step.Answer, o.ID, step.Reason)
			}
			for _, ev := range DeviceResponses(dev, issuer, dl.MessageID, answer, now) {
				s.Observe(ev, from)
			}
		}
		if step.Answer != Wilco || len(o.Deliveries) == 0 {
			return
		}
		// Then the unit reports progress: executing, and complete.
		dl := o.Deliveries[0]
		dev := Device{UID: dl.DeviceUID, Callsign: dl.Callsign}
		for _, st := range []State{Executing, Complete} {
			select {
			case <-ctx.Done():
				return
			case <-time.After(after):
			}
			evs := DeviceResponses(dev, issuer, newMessageID(), fmt.Sprintf("%s %s", st, o.ID), s.clock())
			s.Observe(evs[len(evs)-1], from)
		}
	}()
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
