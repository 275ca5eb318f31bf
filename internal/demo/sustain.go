package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/sustain"
)

// The logisticians of the storyline. They act on the USA hub's combined
// sustainment ledger, as officers holding certificates with the
// commander role would.
var (
	usaLog = label.Principal{Nation: "USA", Clearance: label.Secret, Name: "USFJ-J4", Role: "commander"}
	jpnLog = label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "JJOC-J4", Role: "commander"}
	korLog = label.Principal{Nation: "KOR", Clearance: label.Secret, Name: "ROK-JCS-J4", Role: "commander"}
)

// usJpn: US stock levels are releasable to Japan, never to Korea.
func usJpn() label.Label {
	return label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN", "USA"}}
}

func jpnUs() label.Label {
	return label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"JPN", "USA"}}
}

// allies: the existence of a unit profile is shared by all three; its
// readiness combines the stock labels and so stays USA/JPN.
func allies(orig string) label.Label {
	return label.Label{Classification: label.Secret, Originator: orig, ReleasableTo: []string{"JPN", "KOR", "USA"}}
}

// Storyline names, for tests.
const (
	DemoBattery    = "usa-patriot-1-1"
	DemoBatteryU   = "1-1ada"
	DemoDestroyer  = "DDG-65"
	DemoDestroyerU = "desron15"
	DemoFactory    = "jpn-mhi-komaki"
	DemoDepot      = "usa-kadena-asp"
	DemoYard       = "jpn-jmu-yokohama"
)

// SustainmentStory plays the sustainment storyline across the national
// nodes: a JPN production lot of PAC-3 MSE accepted at the Komaki plant
// on the JPN node; a transfer of 8 to the USA's Kadena depot on the USA
// hub, requested by the USA, approved by each nation on its own node and
// carried between them by federation, shipped by JPN and received by the
// USA (each ledger moving the stock once); a USA Patriot battery engaging
// each simulated missile (its stock falling at once); and a US destroyer
// inducted for repair at a Japanese yard (unavailable to its squadron). A
// KOR battery's own stock is kept on the KOR node. Then it engages every
// missile warning the USA node sees.
func SustainmentStory(ctx context.Context, usa, jpn, kor *node.Node, poll time.Duration) error {
	s := usa.Sustainment()
	if s == nil {
		return errors.New("the USA node has no sustainment service")
	}
	js := jpn.Sustainment()
	if js == nil {
		return errors.New("the JPN node has no sustainment service")
	}
	steps := []func() error{
		func() error { return storyLocations(ctx, s, js) },
		func() error { return storyUnits(ctx, s) },
		func() error { return storyStock(ctx, s, js) },
		func() error { return storyTransfer(ctx, s, js) },
		func() error { return storyRepair(ctx, s) },
	}
	if ks := kor.Sustainment(); ks != nil {
		steps = append(steps, func() error { return storyKorea(ctx, ks) })
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return fmt.Errorf("sustainment storyline: %w", err)
		}
	}
	// Engage every missile the USA hub sees, once per missile.
	t := time.NewTicker(poll)
	defer t.Stop()
	p := label.Principal{Nation: "USA", Clearance: label.Secret}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, m := range usa.Picture().Visible(p, time.Now()) {
			if m.Event.Type != "a-h-A-W-M-S-S" {
				continue
			}
			_, err := s.Engage(ctx, usaLog, sustain.Engagement{Unit: DemoBatteryU, Item: "PAC-3 MSE", Quantity: 2,
				Track: m.UID, Key: "track-" + m.UID, Label: usJpn()})
			if errors.Is(err, sustain.ErrInsufficent) {
				continue // the battery is dry: its readiness says so
			}
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("engaging %s: %w", m.UID, err)
			}
		}
	}
}

func storyLocations(ctx context.Context, s, js *sustain.Service) error {
	// The plant is on the JPN node: its stock is Japan's ledger.
	if _, err := js.PutLocation(ctx, jpnLog, sustain.Location{ID: DemoFactory, Name: "MHI Komaki South", Kind: sustain.Factory,
		Lat: 35.2855, Lon: 136.9236, Label: jpnUs()}); err != nil {
		return err
	}
	for _, l := range []struct {
		p   label.Principal
		loc sustain.Location
	}{
		{jpnLog, sustain.Location{ID: DemoYard, Name: "JMU Yokohama yard", Kind: sustain.Facility, Lat: 35.4544, Lon: 139.6522, Label: jpnUs()}},
		{usaLog, sustain.Location{ID: DemoDepot, Name: "Kadena ammunition supply point", Kind: sustain.Depot, Lat: 26.3556, Lon: 127.7681, Label: usJpn()}},
		{usaLog, sustain.Location{ID: DemoBattery, Name: "D/1-1 ADA Patriot battery", Kind: sustain.Battery, Unit: DemoBatteryU, Lat: 26.3705, Lon: 127.7406, Label: usJpn()}},
	} {
		if _, err := s.PutLocation(ctx, l.p, l.loc); err != nil {
			return err
		}
	}
	return nil
}

func storyUnits(ctx context.Context, s *sustain.Service) error {
	for _, u := range []sustain.Unit{
		{ID: "indopacom", Name: "US Indo-Pacific Command", Label: allies("USA")},
		{ID: "usfj", Parent: "indopacom", Name: "US Forces Japan", Label: allies("USA")},
		{ID: "38ada", Parent: "usfj", Name: "38th ADA Brigade", Label: allies("USA")},
		{ID: DemoBatteryU, Parent: "38ada", Name: "1-1 ADA Patriot", Location: DemoBattery,
			Assets:   []sustain.Asset{{ID: "LS-1"}, {ID: "LS-2"}, {ID: "LS-3"}, {ID: "LS-4"}},
			Required: map[string]int64{"PAC-3 MSE": 16}, Safety: map[string]int64{"PAC-3 MSE": 8}, AlertBelow: sustain.Amber, Label: allies("USA")},
		{ID: "c7f", Parent: "indopacom", Name: "US 7th Fleet", Label: allies("USA")},
		{ID: "ctf70", Parent: "c7f", Name: "Task Force 70", Label: allies("USA")},
		{ID: DemoDestroyerU, Parent: "ctf70", Name: "Destroyer Squadron 15",
			Assets: []sustain.Asset{{ID: DemoDestroyer, Kind: "ship", UID: "USS-BENFOLD"}, {ID: "DDG-85", Kind: "ship"}}, Label: allies("USA")},
	} {
		if _, err := s.PutUnit(ctx, usaLog, u); err != nil {
			return err
		}
	}
	return nil
}

func storyStock(ctx context.Context, s, js *sustain.Service) error {
	// The US battery holds 12 from US production, issued from Kadena.
	if _, err := s.Record(ctx, usaLog,
		sustain.Movement{Item: "PAC-3 MSE", From: sustain.Source, To: DemoDepot, Quantity: 12, Reason: sustain.Production, Lot: "LM-24", Key: "demo-us-lot", Label: usJpn()},
		sustain.Movement{Item: "PAC-3 MSE", From: DemoDepot, To: DemoBattery, Quantity: 12, Reason: sustain.Issue, Key: "demo-us-issue", Label: usJpn()},
	); err != nil {
		return err
	}
	// A JPN production lot accepted into JPN stock at the Komaki plant.
	_, err := js.Record(ctx, jpnLog, sustain.Movement{Item: "PAC-3 MSE", From: sustain.Source, To: DemoFactory, Quantity: 16,
		Reason: sustain.Production, Lot: "MHI-2026-07", Key: "demo-jpn-lot", Label: jpnUs()})
	if err != nil {
		return err
	}
	_, err = js.Schedule(ctx, jpnLog, sustain.Scheduled{Item: "PAC-3 MSE", Location: DemoFactory, Date: time.Now().Add(20 * 24 * time.Hour),
		Quantity: 16, Lot: "MHI-2026-08", Label: jpnUs()})
	return err
}

func storyTransfer(ctx context.Context, s, js *sustain.Service) error {
	var t sustain.TransferRecord
	for _, x := range s.Transfers(usaLog) {
		if x.Item == "PAC-3 MSE" && x.From == DemoFactory {
			t = x // told before (a restarted demo on the same data)
		}
	}
	if t.ID == "" {
		var err error
		t, err = s.RequestTransfer(ctx, usaLog, sustain.TransferRequest{Item: "PAC-3 MSE", Quantity: 8, From: DemoFactory, FromNation: "JPN",
			To: DemoDepot, Expected: time.Now().Add(24 * time.Hour), Label: usJpn()})
		if err != nil {
			return err
		}
	}
	// Each nation acts on its own node once it has learnt, over
	// federation, what the other did.
	for _, a := range []struct {
		s    *sustain.Service
		p    label.Principal
		act  sustain.TransferAction
		when sustain.TransferState
		why  string
	}{
		{js, jpnLog, sustain.ActApprove, sustain.Requested, "METI export licence granted"},
		{s, usaLog, sustain.ActApprove, sustain.Requested, "receipt confirmed by USFJ J4"},
		{js, jpnLog, sustain.ActShip, sustain.Approved, "shipped from Nagoya"},
		{s, usaLog, sustain.ActReceive, sustain.Shipped, "received at Kadena"},
	} {
		if err := waitTransfer(ctx, a.s, a.p, t.ID, a.when); err != nil {
			return err
		}
		if _, err := a.s.Act(ctx, a.p, t.ID, a.act, a.why); err != nil && !errors.Is(err, sustain.ErrState) {
			return err
		}
	}
	_, err := s.Record(ctx, usaLog, sustain.Movement{Item: "PAC-3 MSE", From: DemoDepot, To: DemoBattery, Quantity: 8, Reason: sustain.Issue,
		Key: "demo-us-issue-2", Label: usJpn()})
	return err
}

// waitTransfer waits until the transfer is at least at state on s.
func waitTransfer(ctx context.Context, s *sustain.Service, p label.Principal, id string, state sustain.TransferState) error {
	order := []sustain.TransferState{sustain.Requested, sustain.Approved, sustain.Shipped, sustain.Received}
	at := func(st sustain.TransferState) int {
		for i, x := range order {
			if x == st {
				return i
			}
		}
		return len(order)
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if tr, err := s.Transfer(p, id); err == nil && at(tr.State) >= at(state) {
			if tr.State == sustain.Rejected {
				return fmt.Errorf("transfer %s was rejected", id)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func storyRepair(ctx context.Context, s *sustain.Service) error {
	for _, w := range s.WorkOrders(usaLog) {
		if w.Asset == DemoDestroyer {
			return nil
		}
	}
	w, err := s.OpenWorkOrder(ctx, usaLog, sustain.WorkOrder{Asset: DemoDestroyer, Unit: DemoDestroyerU, UID: "USS-BENFOLD",
		Facility: DemoYard, Type: "hull and propulsion repair", Inducted: time.Now(), Planned: time.Now().Add(45 * 24 * time.Hour),
		Status: sustain.Planned, Label: usJpn()})
	if err != nil {
		return err
	}
	_, err = s.SetWorkStatus(ctx, jpnLog, w.ID, sustain.Inducted, "docked at JMU Yokohama")
	return err
}

func storyKorea(ctx context.Context, s *sustain.Service) error {
	kor := label.Label{Classification: label.Secret, Originator: "KOR", ReleasableTo: []string{"KOR"}}
	if _, err := s.PutLocation(ctx, korLog, sustain.Location{ID: "kor-patriot-osan", Name: "ROK Patriot battery", Kind: sustain.Battery,
		Lat: 37.09, Lon: 127.03, Label: kor}); err != nil {
		return err
	}
	if _, err := s.PutUnit(ctx, korLog, sustain.Unit{ID: "rok-patriot", Parent: "rok-afoc", Name: "ROK Patriot battalion", Location: "kor-patriot-osan",
		Assets: []sustain.Asset{{ID: "ROK-LS-1"}, {ID: "ROK-LS-2"}}, Required: map[string]int64{"PAC-3 MSE": 8}, Label: kor}); err != nil {
		return err
	}
	_, err := s.Record(ctx, korLog, sustain.Movement{Item: "PAC-3 MSE", From: sustain.Source, To: "kor-patriot-osan", Quantity: 8,
		Reason: sustain.Production, Key: "demo-kor-lot", Label: kor})
	if err != nil && strings.Contains(err.Error(), "already") {
		return nil
	}
	return err
}
