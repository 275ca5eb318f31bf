package command

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"kizuna/internal/label"
)

// This file holds the order family (WARNORD, OPORD, FRAGORD, EXORD), the
// five-paragraph body, the serial and date-time group, the info
// addressees of the echelons an order skips, and the reports that answer
// a report request.

// Family is the form of an order: warning, operation, fragmentary or
// execute order.
type Family string

// The order family.
const (
	WARNORD Family = "WARNORD"
	OPORD   Family = "OPORD"
	FRAGORD Family = "FRAGORD"
	EXORD   Family = "EXORD"
)

// ParseFamily accepts a family name case-insensitively.
func ParseFamily(s string) (Family, error) {
	switch f := Family(strings.ToUpper(strings.TrimSpace(s))); f {
	case WARNORD, OPORD, FRAGORD, EXORD:
		return f, nil
	case "WARNO":
		return WARNORD, nil
	case "FRAGO":
		return FRAGORD, nil
	}
	return "", fmt.Errorf("unknown order family %q (want WARNORD, OPORD, FRAGORD or EXORD)", s)
}

// Paragraphs are the five paragraphs of an order.
type Paragraphs struct {
	Situation     string    `json:"situation,omitempty"`
	Mission       string    `json:"mission,omitempty"`
	Execution     Execution `json:"execution"`
	Sustainment   string    `json:"sustainment,omitempty"`
	CommandSignal string    `json:"commandSignal,omitempty"`
}

// Execution is paragraph 3: the commander's intent, the concept of
// operations and the tasks to subordinate units.
type Execution struct {
	Intent  string   `json:"intent,omitempty"`
	Concept string   `json:"concept,omitempty"`
	Tasks   []string `json:"tasks,omitempty"`
}

func (p *Paragraphs) validate() error {
	if p == nil {
		return nil
	}
	n := len(p.Situation) + len(p.Mission) + len(p.Execution.Intent) + len(p.Execution.Concept) + len(p.Sustainment) + len(p.CommandSignal)
	for _, t := range p.Execution.Tasks {
		n += len(t)
	}
	if n > 4*maxOrderText {
		return fmt.Errorf("the order's paragraphs exceed %d bytes", 4*maxOrderText)
	}
	if len(p.Execution.Tasks) > 50 {
		return fmt.Errorf("at most 50 tasks")
	}
	return nil
}

// Report is a report answering a report request (SITREP, or a readiness
// report).
type Report struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Readiness is the structured content of a READINESS report.
	Readiness *ReadinessLevels `json:"readiness,omitempty"`
	At        time.Time        `json:"at"`
	By        string           `json:"by"`
	Unit      string           `json:"unit,omitempty"`
	Via       string           `json:"via"`
}

// Report kinds.
var reportKinds = []string{"SITREP", "READINESS"}

// DTG renders t as a military date-time group, e.g. 051230ZDEC26.
func DTG(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%02d%02d%02dZ%s%02d", t.Day(), t.Hour(), t.Minute(), strings.ToUpper(t.Month().String()[:3]), t.Year()%100)
}

// infoAddressees lists the echelons an order from issuer to recipient
// skips: the units between them in the standing chain, or, when the
// issuer's authority comes from a grant, the units between the granted
// force and the recipient.
func (w *world) infoAddressees(issuer, recipient string, d Decision) []string {
	path := w.ancestorsOrSelf(recipient)
	if len(path) < 2 {
		return nil
	}
	top := issuer
	if len(d.Chain) > 0 {
		top = d.Chain[len(d.Chain)-1].Unit
	}
	i := slices.Index(path, top)
	if i < 1 {
		return nil
	}
	out := slices.Clone(path[1:i])
	if top != issuer && top != recipient {
		out = append(out, top)
	}
	return out
}

// checkFragord applies the rule for an order that changes or executes
// another: it names an open order of the same recipient, issued by the
// same unit or one of its subordinates.
func (s *Service) checkChangesLocked(issuer *Unit, recipient *Unit, fam Family, changes string) (*Order, error) {
	if changes == "" {
		if fam == FRAGORD {
			return nil, ruleErr(RuleFragord, "a FRAGORD names the order it changes")
		}
		return nil, nil
	}
	base, ok := s.orders[strings.ToUpper(changes)]
	if !ok {
		return nil, ruleErr(RuleFragord, "order %s does not exist", changes)
	}
	if base.State.Terminal() {
		return nil, ruleErr(RuleFragord, "order %s is %s: there is nothing left to change", base.ID, base.State)
	}
	if base.Recipient != recipient.ID {
		return nil, ruleErr(RuleFragord, "order %s went to %s, not %s", base.ID, base.Recipient, recipient.ID)
	}
	if base.IssuerUnit != issuer.ID && !s.world().within(base.IssuerUnit, issuer.ID) {
		return nil, ruleErr(RuleFragord, "only %s or its superiors change order %s, not %s", base.IssuerUnit, base.ID, issuer.ID)
	}
	return base, nil
}

// serialLocked is the issuer's next order serial.
func (s *Service) serialLocked(issuer *Unit) string {
	n := 1
	for _, o := range s.orders {
		if o.IssuerUnit == issuer.ID {
			n++
		}
	}
	return fmt.Sprintf("%s-%04d", issuer.callsign(), n)
}

func orFamily(o *Order) string {
	if o.Family != "" {
		return string(o.Family)
	}
	return "REQUEST"
}

// orderLinks renders an order's links for the audit log.
func orderLinks(o *Order) string {
	var parts []string
	if o.Changes != "" {
		parts = append(parts, "changes "+o.Changes)
	}
	if o.Via != "" {
		parts = append(parts, "via "+o.Via)
	}
	if o.Wanted != "" {
		parts = append(parts, "support of "+o.Wanted+" requested")
	}
	if o.Request != "" {
		parts = append(parts, "answers request "+o.Request)
	}
	if len(o.Info) > 0 {
		parts = append(parts, "info "+strings.Join(o.Info, ","))
	}
	return strings.Join(parts, "; ")
}

// Report answers a report request with a report (SITREP or READINESS)
// from the recipient unit (as): the report is kept with the order, which
// becomes COMPLETE (through WILCO when not yet answered).
func (s *Service) Report(ctx context.Context, p label.Principal, as, id, kind, text string) (*Order, error) {
	return s.ReportWith(ctx, p, as, id, kind, text, nil)
}

// ReportWith is Report with the levels of a READINESS report (personnel
// and training; equipment and supply when sustainment has none).
func (s *Service) ReportWith(ctx context.Context, p label.Principal, as, id, kind, text string, levels *ReadinessLevels) (*Order, error) {
	kind = strings.ToUpper(strings.TrimSpace(kind))
	if kind == "" {
		kind = "SITREP"
	}
	if !slices.Contains(reportKinds, kind) {
		return nil, invalid("report kind %q (want SITREP or READINESS)", kind)
	}
	text = strings.TrimSpace(text)
	if len(text) > maxOrderText || (text == "" && kind != "READINESS") {
		return nil, invalid("a report needs text of at most %d bytes", maxOrderText)
	}
	by := &actor{By: p.String(), Via: "api"}
	check := func(o *Order) error {
		au, err := s.asRecipient(p, o, id, as, "report on")
		if err != nil {
			return err
		}
		by.Unit = au.ID
		return nil
	}
	return s.report(ctx, p, id, Report{Kind: kind, Text: text}, levels, by, check)
}

// report records r and completes the report request.
func (s *Service) report(ctx context.Context, p label.Principal, id string, r Report, levels *ReadinessLevels, by *actor, check func(o *Order) error) (*Order, error) {
	s.mu.Lock()
	cur, ok := s.orders[strings.ToUpper(id)]
	var st State
	var typ OrderType
	if ok {
		st, typ, cur = cur.State, cur.Type, cur.clone()
	}
	s.mu.Unlock()
	if !ok || !label.Releasable(p, cur.Label) {
		return nil, fmt.Errorf("%w: order %q", ErrNotFound, id)
	}
	if typ != ReportRequest {
		return nil, invalid("order %s is a %s, not a report request", id, typ)
	}
	id = cur.ID
	if r.Kind == "READINESS" {
		rl, err := s.readinessFor(p, cur, cur.Recipient, levels, r.Text)
		if err != nil {
			return nil, err
		}
		r.Readiness = rl
		if r.Text == "" {
			r.Text = rl.String()
		} else {
			r.Text = rl.String() + " " + r.Text
		}
	}
	if CanMove(st, Wilco) {
		if _, err := s.move(ctx, id, Wilco, by, "report follows", check, nil); err != nil {
			return nil, err
		}
	}
	r.At, r.By, r.Unit, r.Via = s.clock(), by.By, by.Unit, by.Via
	return s.move(ctx, id, Complete, by, r.Kind+": "+r.Text, check, func(o *Order) { o.Reports = append(o.Reports, r) })
}
