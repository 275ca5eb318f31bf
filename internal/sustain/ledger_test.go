package sustain

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"kizuna/internal/label"
)

var (
	usaP = label.Principal{Nation: "USA", Clearance: label.Secret, Name: "usa-log", Role: "commander"}
	jpnP = label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "jpn-log", Role: "commander"}
	korP = label.Principal{Nation: "KOR", Clearance: label.Secret, Name: "kor-log", Role: "commander"}
)

func relTo(orig string, to ...string) label.Label {
	return label.Label{Classification: label.Secret, Originator: orig, ReleasableTo: to}
}

// newService opens a service in a temporary directory.
func newService(t testing.TB, cfg Config) *Service {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "sustain.db")
	}
	if cfg.Nation == "" {
		cfg.Nation = "USA"
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "test-node"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func mustLoc(t testing.TB, s *Service, p label.Principal, id string, kind LocationKind, l label.Label) {
	t.Helper()
	if _, err := s.PutLocation(context.Background(), p, Location{ID: id, Kind: kind, Lat: 35, Lon: 139, Label: l}); err != nil {
		t.Fatalf("location %s: %v", id, err)
	}
}

// TestLedgerProperty records random movement sequences, valid and not,
// and checks after every step that conservation holds, and at the end
// that the live balances equal a replay from scratch, also after a
// reopen.
func TestLedgerProperty(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run("seed"+string(rune('0'+seed)), func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{DBPath: filepath.Join(dir, "s.db"), Nation: "USA", Catalogue: []Item{{Name: "20mm"}}}
			s := newService(t, cfg)
			ctx := context.Background()
			ps := []label.Principal{usaP, jpnP}
			locs := map[string][]string{"USA": {"u1", "u2", "u3"}, "JPN": {"j1", "j2"}}
			for _, p := range ps {
				for _, id := range locs[p.Nation] {
					mustLoc(t, s, p, id, Depot, relTo(p.Nation, "JPN", "USA"))
				}
			}
			items := []string{"20mm", "PAC-3 MSE"}
			reasons := []Reason{Production, Production, Production, Issue, Issue, Transfer, Expenditure, Return, Adjustment}
			rng := rand.New(rand.NewPCG(seed, 99))
			accepted, refused := 0, 0
			for step := 0; step < 150; step++ {
				p := ps[rng.IntN(len(ps))]
				own := locs[p.Nation]
				pick := func() string {
					if rng.IntN(10) == 0 {
						return []string{Source, Sink, "nowhere", locs["JPN"][0]}[rng.IntN(4)]
					}
					return own[rng.IntN(len(own))]
				}
				n := 1
				if rng.IntN(4) == 0 {
					n += rng.IntN(3)
				}
				var batch []Movement
				for i := 0; i < n; i++ {
					m := Movement{Item: items[rng.IntN(2)], Reason: reasons[rng.IntN(len(reasons))], Quantity: int64(1 + rng.IntN(6)), From: pick(), To: pick()}
					switch m.Reason {
					case Production:
						if rng.IntN(5) > 0 {
							m.From = Source
						}
					case Expenditure:
						if rng.IntN(5) > 0 {
							m.To = Sink
						}
					}
					if rng.IntN(20) == 0 {
						m.ToOwner = "KOR" // an owner change outside a transfer receipt
					}
					if rng.IntN(20) == 0 {
						m.Quantity = -m.Quantity
					}
					batch = append(batch, m)
				}
				before := s.Stocks(usaP, "", "")
				_, err := s.Record(ctx, p, batch...)
				if err != nil {
					refused++
					if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrInsufficent) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrRefused) {
						t.Fatalf("step %d: unexpected error kind: %v", step, err)
					}
					if after := s.Stocks(usaP, "", ""); !slices.EqualFunc(before, after, func(a, b Stock) bool { return a.Quantity == b.Quantity && a.Item == b.Item }) {
						t.Fatalf("step %d: a refused batch changed balances", step)
					}
				} else {
					accepted++
				}
				s.mu.Lock()
				err = s.led.conservation()
				s.mu.Unlock()
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			if accepted < 20 || refused < 10 {
				t.Fatalf("weak sequence: %d accepted, %d refused", accepted, refused)
			}
			if err := s.Verify(); err != nil {
				t.Fatal(err)
			}
			live := s.Stocks(usaP, "", "")
			s.Stop(ctx)
			s2 := newService(t, cfg)
			if err := s2.Verify(); err != nil {
				t.Fatal(err)
			}
			if got := s2.Stocks(usaP, "", ""); !slices.EqualFunc(live, got, func(a, b Stock) bool {
				return a.Item == b.Item && a.Location == b.Location && a.Owner == b.Owner && a.Quantity == b.Quantity && a.Label.Equal(b.Label)
			}) {
				t.Fatalf("after reopen balances differ:\n%v\n%v", live, got)
			}
		})
	}
}

// TestLedgerRules checks each conservation rule refuses what it should.
func TestLedgerRules(t *testing.T) {
	s := newService(t, Config{Catalogue: []Item{{Name: "20mm"}}})
	ctx := context.Background()
	mustLoc(t, s, usaP, "d1", Depot, relTo("USA", "JPN"))
	mustLoc(t, s, usaP, "d2", Depot, relTo("USA", "JPN"))
	if _, err := s.Record(ctx, usaP, Movement{Item: "20mm", From: Source, To: "d1", Quantity: 10, Reason: Production}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    Movement
		want error
	}{
		{"issue from the source", Movement{Item: "20mm", From: Source, To: "d1", Quantity: 1, Reason: Issue}, ErrInvalid},
		{"production to the sink", Movement{Item: "20mm", From: Source, To: Sink, Quantity: 1, Reason: Production}, ErrInvalid},
		{"adjustment into the sink", Movement{Item: "20mm", From: "d1", To: Sink, Quantity: 1, Reason: Adjustment}, ErrInvalid},
		{"more than held", Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 11, Reason: Issue}, ErrInsufficent},
		{"unknown item", Movement{Item: "nope", From: "d1", To: "d2", Quantity: 1, Reason: Issue}, ErrInvalid},
		{"zero quantity", Movement{Item: "20mm", From: "d1", To: "d2", Reason: Issue}, ErrInvalid},
		{"unknown reason", Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 1, Reason: "gift"}, ErrInvalid},
		{"another nation's stock", Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 1, Reason: Issue, FromOwner: "JPN"}, ErrRefused},
		{"owner change by hand", Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 1, Reason: Transfer, ToOwner: "JPN"}, ErrRefused},
		{"serialised without enough rounds", Movement{Item: "PAC-3 MSE", From: "d1", To: "d2", Quantity: 1, Reason: Issue}, ErrInsufficent},
		{"label above clearance", Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 1, Reason: Issue, Label: label.Label{Classification: label.TopSecret}}, ErrRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Record(ctx, usaP, c.m)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Serials: production creates them, an issue moves them, expenditure
	// retires them; a retired or absent serial cannot move.
	out, err := s.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "d1", Quantity: 3, Reason: Production, Lot: "L1"})
	if err != nil || len(out[0].Serials) != 3 {
		t.Fatalf("production: %v %v", out, err)
	}
	if _, err := s.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: "d1", To: Sink, Quantity: 1, Reason: Expenditure, Serials: []string{"USA-L1-2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: "d1", To: "d2", Quantity: 1, Reason: Issue, Serials: []string{"USA-L1-2"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an expended serial moved: %v", err)
	}
	if _, err := s.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "d1", Quantity: 1, Reason: Production, Serials: []string{"USA-L1-1"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a duplicate serial was produced: %v", err)
	}
	if got := s.Serials(usaP, "PAC-3 MSE"); len(got) != 2 || got[0].Serial != "USA-L1-1" || got[0].Lot != "L1" {
		t.Fatalf("serials: %+v", got)
	}
	// Idempotency: the same key records once.
	m := Movement{Item: "20mm", From: "d1", To: "d2", Quantity: 2, Reason: Issue, Key: "k1"}
	a, err := s.Record(ctx, usaP, m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Record(ctx, usaP, m)
	if err != nil || a[0].Seq != b[0].Seq {
		t.Fatalf("repeat: %v %v %v", a, b, err)
	}
	if st, _ := s.Balance(usaP, "20mm", "d2", "USA"); st.Quantity != 2 {
		t.Fatalf("d2 holds %d, want 2", st.Quantity)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerRandomInMemory hammers the derived state alone with many
// random movements (no database): conservation after each, and the
// result equals a replay of the accepted movements.
func TestLedgerRandomInMemory(t *testing.T) {
	items := []Item{{Name: "a"}, {Name: "b", Serialised: true}}
	l := newLedger(items)
	for _, id := range []string{"x", "y", "z"} {
		l.locs[id] = &Location{ID: id, Kind: Depot, Nation: "USA", Label: relTo("USA", "JPN")}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var log []Movement
	ends := []string{Source, Sink, "x", "y", "z"}
	for i := 0; i < 5000; i++ {
		m := Movement{Item: items[rng.IntN(2)].Name, From: ends[rng.IntN(5)], To: ends[rng.IntN(5)],
			FromOwner: "USA", ToOwner: "USA", Quantity: int64(1 + rng.IntN(4)),
			Reason: []Reason{Production, Issue, Expenditure, Return, Adjustment, Transfer}[rng.IntN(6)],
			Label:  relTo("USA", "JPN"), Time: time.Unix(int64(i), 0)}
		l.fillSerials(&m)
		if l.check(&m) != nil {
			continue
		}
		m.Seq = l.lastSeq + 1
		l.apply(&m)
		log = append(log, m)
		if err := l.conservation(); err != nil {
			t.Fatalf("after %d: %v", i, err)
		}
	}
	r := newLedger(items)
	r.locs = l.locs
	for i := range log {
		if err := r.check(&log[i]); err != nil {
			t.Fatalf("replay %d: %v", i, err)
		}
		r.apply(&log[i])
	}
	if err := l.equal(r); err != nil {
		t.Fatal(err)
	}
	if len(log) < 500 {
		t.Fatalf("only %d movements accepted", len(log))
	}
}

// TestCombineFastPath: the fast path of combine agrees with label.Combine.
func TestCombineFastPath(t *testing.T) {
	nations := []string{"USA", "JPN", "KOR", "AUS"}
	rng := rand.New(rand.NewPCG(3, 4))
	randLabel := func() label.Label {
		l := label.Label{Classification: label.Classification(1 + rng.IntN(4)), Originator: nations[rng.IntN(4)]}
		for _, n := range nations {
			if rng.IntN(2) == 0 {
				l.ReleasableTo = append(l.ReleasableTo, n)
			}
		}
		if rng.IntN(10) == 0 {
			l.Caveat = "NOFORN"
		}
		return l
	}
	for i := 0; i < 20000; i++ {
		owner := nations[rng.IntN(4)]
		acc := label.Combine(owner, randLabel())
		for j := rng.IntN(3); j > 0; j-- {
			acc = label.Combine(owner, acc, randLabel())
		}
		l := randLabel()
		if got, want := combine(owner, acc, l), label.Combine(owner, acc, l); !got.Equal(want) {
			t.Fatalf("combine(%s, %+v, %+v) = %+v, want %+v", owner, acc, l, got, want)
		}
	}
}
