package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"kizuna/internal/command"
	"kizuna/internal/label"
)

//go:embed orbat.json
var orbat []byte

// Orbat returns the demonstration order of battle (public unit names
// only). Three national chains: US Indo-Pacific Command with its service
// components (Pacific Fleet, Pacific Air Forces, Marine Forces Pacific,
// Army Pacific), US Forces Japan as a joint force headquarters with US
// Army Japan, Naval Forces Japan and Marine Forces Japan, and US Forces
// Korea; the Ministry of Defense and Joint Staff above the JSDF Joint
// Operations Command, with the Self-Defense Fleet, Air Defense Command,
// Ground Component Command and Western Army (15th Brigade); the ROK Joint
// Chiefs of Staff. Between them: the ROK–US Combined Forces Command, and
// the coordination bodies (the Alliance Coordination Mechanism with its
// bilateral operations coordination centre, a trilateral missile-warning
// cell, UN Command-Rear). The nation-pair policies: USA–JPN no command
// either way; USA–KOR through the CFC.
func Orbat() []byte { return bytes.Clone(orbat) }

// Step is one act of the demonstration exercise.
type Step struct {
	// Name identifies the step; later steps refer to it (Ref).
	Name      string
	Principal label.Principal
	// Grant is a grant the step asks for (some are refused on purpose).
	Grant *command.GrantRequest
	// Order is an order the step issues. When Ref is set its Changes is
	// the order Ref issued (a FRAGORD).
	Order *command.IssueRequest
	Ref   string
	// Decide, with Ref naming a routed support request, is the other
	// nation's decision; an approval issues its national order.
	Decide *command.DecideRequest
	// Answer is what the recipient's simulated device replies: WILCO or
	// CANTCO (with Reason); Report answers a report request with a SITREP.
	Answer command.State
	Reason string
	Report string
}

func secret(n string) label.Principal { return label.Principal{Nation: n, Clearance: label.Secret} }

// Script returns the demonstration exercise on the demo order of battle.
// It tells how the allies command: each nation orders its own forces down
// its own chain (JJOC a WARNORD then an OPORD to 15th Brigade with Western
// Army as info addressee; USFJ, holding OPCON of III MEF, an OPORD to the
// 12th MLR and a FRAGORD changing it while it executes; 7th Fleet its own
// task force); a US attempt to place US forces under JJOC is refused; the
// US request for JSDF support in the missile defence of Japan goes through
// the ACM/BOCC to JJOC, which approves it and orders its Air Defense
// Command; the Combined Forces Command tasks ROK forces placed under it by
// national decision; the ROK JCS asks for a report and gets a SITREP; a
// JJOC order to US Marines is refused.
func Script() []Step {
	miyako := &command.Location{Name: "Miyako", Area: []command.LatLon{{Lat: 24.70, Lon: 125.25}, {Lat: 24.82, Lon: 125.28}, {Lat: 24.78, Lon: 125.45}, {Lat: 24.70, Lon: 125.40}}}
	return []Step{
		{Name: "jjoc-warnord", Principal: secret("JPN"), Answer: command.Wilco, Order: &command.IssueRequest{As: "jjoc", Recipient: "western-army", Type: "TASK", Family: "WARNORD", DeadlineIn: "2h",
			Text: "Prepare to deploy 15th Brigade air-defence elements to Miyako-jima within 24 hours"}},
		{Name: "jjoc-opord", Principal: secret("JPN"), Answer: command.Wilco, Order: &command.IssueRequest{As: "jjoc", Recipient: "15bde", Type: "TASK", Family: "OPORD", DeadlineIn: "2h",
			Text: "Deploy the brigade's air-defence elements to Miyako-jima", Location: miyako,
			Paragraphs: &command.Paragraphs{Situation: "Missile launches toward the Nansei Islands are assessed likely within 72 hours.",
				Mission:     "15th Brigade deploys air-defence elements to Miyako-jima to protect the airport and port.",
				Execution:   command.Execution{Intent: "Miyako-jima's airport and port stay open under missile threat.", Tasks: []string{"Air-defence company: occupy positions at the airport", "Engineer platoon: harden the port's fuel storage"}},
				Sustainment: "Resupply by JMSDF transport from Naha.", CommandSignal: "Western Army is informed; JJOC commands."}}},
		{Name: "usfj-opord", Principal: secret("USA"), Answer: command.Wilco, Order: &command.IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Family: "OPORD", DeadlineIn: "2h",
			Text:     "Establish an anti-ship missile battery on Ishigaki and report ready to fire",
			Location: &command.Location{Name: "Ishigaki", Point: &command.LatLon{Lat: 24.40, Lon: 124.20}},
			Paragraphs: &command.Paragraphs{Mission: "12th MLR establishes an anti-ship missile battery on Ishigaki.",
				Execution: command.Execution{Intent: "Deny the Miyako Strait to hostile surface groups.", Tasks: []string{"Battery: occupy the southern site and report ready to fire"}}}}},
		{Name: "usfj-fragord", Principal: secret("USA"), Answer: command.Wilco, Ref: "usfj-opord", Order: &command.IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Family: "FRAGORD", DeadlineIn: "1h",
			Text:     "Shift the battery to the northern site; all else unchanged",
			Location: &command.Location{Name: "Ishigaki north", Point: &command.LatLon{Lat: 24.52, Lon: 124.28}}}},
		{Name: "c7f-opord", Principal: secret("USA"), Answer: command.Wilco, Order: &command.IssueRequest{As: "c7f", Recipient: "ctf70", Type: "TASK", DeadlineIn: "1h",
			Text: "Station the BMD destroyer in the Sea of Japan for the missile defence of Japan"}},
		{Name: "usfj-opcon-refused", Principal: secret("USA"), Grant: &command.GrantRequest{Kind: command.OPCON, Grantor: "usfj", Grantee: "jjoc", Unit: "12mlr", Duration: "24h",
			Reason: "Try to place the 12th MLR under JJOC", Decision: &command.NationalDecision{Authority: "none", Reference: "none", Caveats: command.Caveats{Mission: "none"}}}},
		{Name: "usfj-bmd-request", Principal: secret("USA"), Order: &command.IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h",
			Text: "Request JASDF Patriot coverage of Kadena and Futenma for the missile defence of Japan"}},
		{Name: "jjoc-approves", Principal: secret("JPN"), Ref: "usfj-bmd-request", Answer: command.Wilco, Decide: &command.DecideRequest{As: "jjoc", Outcome: command.Approved,
			Reason: "Coverage of Kadena approved; Futenma as capacity allows",
			Order: &command.IssueRequest{As: "jjoc", Recipient: "adc", Type: "TASK", DeadlineIn: "2h",
				Text: "Deploy PAC-3 fire units to cover Kadena Air Base; Futenma as capacity allows"}}},
		{Name: "cfc-task", Principal: secret("USA"), Answer: command.Wilco, Order: &command.IssueRequest{As: "cfc", Recipient: "rok-goc", Type: "TASK", DeadlineIn: "2h",
			Text: "Conduct the combined defensive exercise north of Seoul"}},
		{Name: "rok-report", Principal: secret("KOR"), Report: "Three destroyers on picket stations in the East Sea; radars up; no contacts", Order: &command.IssueRequest{As: "rok-jcs", Recipient: "rok-noc", Type: "REPORT_REQUEST", DeadlineIn: "30m",
			Text: "Report missile-warning picket positions in the East Sea"}},
		// Refused: JJOC commands no US forces.
		{Name: "jjoc-refused", Principal: secret("JPN"), Answer: command.Wilco, Order: &command.IssueRequest{As: "jjoc", Recipient: "31meu", Type: "MOVEMENT", DeadlineIn: "1h",
			Text: "Move to Camp Hansen"}},
	}
}

// OrdersConfig configures RunOrders.
type OrdersConfig struct {
	// Every is the pause between two steps (default 20s).
	Every time.Duration
	// Simulate makes the recipient units' devices answer in-process: each
	// device sends a delivery and a read receipt and the first one the
	// step's answer (then EXECUTING and COMPLETE after a WILCO), as
	// GeoChat through ObserveFrom with the device's identity, as the node
	// passes a TAK client's events. Leave it off when real or simulated
	// TAK clients are connected for those devices.
	Simulate bool
	// AnswerAfter is how long a simulated device waits before answering
	// (default 3s).
	AnswerAfter time.Duration
	Log         *slog.Logger
	// ServiceOf, when set, gives the chain of command of a nation's own
	// node: a routed request is decided on the deciding nation's node,
	// once the federation has brought it there (nil: on svc).
	ServiceOf func(nation string) *command.Service
}

// RunOrders plays Script in a loop until ctx is done, through the same
// calls as the REST API. Refusals are expected (they show in the audit
// log) and do not stop it.
func RunOrders(ctx context.Context, svc *command.Service, cfg OrdersConfig) error {
	if cfg.Every <= 0 {
		cfg.Every = 20 * time.Second
	}
	if cfg.AnswerAfter <= 0 {
		cfg.AnswerAfter = 3 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	script := Script()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	issued := map[string]string{}
	for i := 0; ; i++ {
		step := script[i%len(script)]
		if i%len(script) == 0 {
			clear(issued)
		}
		playStep(ctx, svc, cfg, step, issued)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// deciderService is the service of the deciding principal's nation's node
// once the request has arrived there (at most ten seconds), else svc.
func deciderService(ctx context.Context, svc *command.Service, cfg OrdersConfig, p label.Principal, id string) *command.Service {
	if cfg.ServiceOf == nil {
		return svc
	}
	d := cfg.ServiceOf(p.Nation)
	if d == nil || d == svc {
		return svc
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.Order(p, id); err == nil {
			return d
		}
		select {
		case <-ctx.Done():
			return svc
		case <-time.After(50 * time.Millisecond):
		}
	}
	cfg.Log.Warn("demo: request did not reach the deciding node; deciding on the requester's", "order", id)
	return svc
}

func playStep(ctx context.Context, svc *command.Service, cfg OrdersConfig, step Step, issued map[string]string) {
	log := cfg.Log.With("step", step.Name)
	switch {
	case step.Grant != nil:
		g, err := svc.Grant(ctx, step.Principal, *step.Grant)
		if err != nil {
			log.Info("demo: grant refused", "rule", command.RuleOf(err), "reason", err)
			return
		}
		log.Info("demo: grant made", "grant", g.ID)
	case step.Decide != nil:
		id := issued[step.Ref]
		if id == "" {
			return
		}
		dsvc := deciderService(ctx, svc, cfg, step.Principal, id)
		_, national, err := dsvc.Decide(ctx, step.Principal, id, *step.Decide)
		if err != nil {
			log.Warn("demo: decision not recorded", "err", err)
			return
		}
		if national != nil && cfg.Simulate {
			simulate(ctx, dsvc, cfg, national, step)
		}
	case step.Order != nil:
		req := *step.Order
		if step.Ref != "" {
			if req.Changes = issued[step.Ref]; req.Changes == "" {
				return
			}
		}
		o, err := svc.Issue(ctx, step.Principal, req)
		var ae *command.AuthorityError
		switch {
		case errors.As(err, &ae):
			log.Info("demo: order refused", "issuer", req.As, "recipient", req.Recipient, "reason", ae.Decision.Reason)
		case err != nil:
			log.Warn("demo: issuing order", "err", err)
		default:
			issued[step.Name] = o.ID
			log.Info("demo: order issued", "order", o.ID, "family", o.Family, "type", o.Type, "issuer", o.IssuerUnit, "recipient", o.Recipient)
			if cfg.Simulate && o.Via == "" {
				simulate(ctx, svc, cfg, o, step)
			}
		}
	}
}

// simulate feeds the receipts and answers of the recipient's devices
// through ObserveFrom after a delay.
func simulate(ctx context.Context, svc *command.Service, cfg OrdersConfig, o *command.Order, step Step) {
	viewer := label.Principal{Nation: "USA", Clearance: label.Secret}
	recipient, err1 := svc.Unit(viewer, o.Recipient)
	issuer, err2 := svc.Unit(viewer, o.IssuerUnit)
	if err1 != nil || err2 != nil {
		return
	}
	from := label.Principal{Nation: recipient.Nation, Clearance: o.Label.Classification}
	go func() {
		if !pause(ctx, cfg.AnswerAfter) {
			return
		}
		now := time.Now()
		for i, dl := range o.Deliveries {
			dev := command.Device{UID: dl.DeviceUID, Callsign: dl.Callsign}
			answer := ""
			if i == 0 {
				switch {
				case step.Report != "":
					answer = fmt.Sprintf("SITREP %s %s", o.ID, step.Report)
				case step.Answer != "":
					answer = strings.TrimSpace(fmt.Sprintf("%s %s %s", step.Answer, o.ID, step.Reason))
				}
			}
			for _, ev := range command.DeviceResponses(dev, &issuer, dl.MessageID, answer, now) {
				svc.ObserveFrom(ev, from, command.Sender(dev))
			}
		}
		if step.Answer != command.Wilco || step.Report != "" || len(o.Deliveries) == 0 {
			return
		}
		// Then the unit reports progress: executing and, for an order no
		// FRAGORD is about to change, complete.
		dl := o.Deliveries[0]
		dev := command.Device{UID: dl.DeviceUID, Callsign: dl.Callsign}
		states := []command.State{command.Executing, command.Complete}
		if step.Name == "usfj-opord" {
			states = states[:1]
		}
		for _, st := range states {
			if !pause(ctx, cfg.AnswerAfter) {
				return
			}
			evs := command.DeviceResponses(dev, &issuer, messageID(), fmt.Sprintf("%s %s", st, o.ID), time.Now())
			svc.ObserveFrom(evs[len(evs)-1], from, command.Sender(dev))
		}
	}()
}

func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func messageID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
