package sustain

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/clustertest"
	"kizuna/internal/cot"
	"kizuna/internal/pgstore"
	"kizuna/internal/taktest"
)

// sharedDB returns the test's own schema of the test PostgreSQL, migrated
// as a cluster's store is.
func sharedDB(t testing.TB) *sql.DB {
	t.Helper()
	url := clustertest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := pgstore.Open(ctx, pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(st.Pool())
	t.Cleanup(func() {
		db.Close()
		st.Close()
	})
	return db
}

// instance starts one instance of a node whose sustainment is in db.
func instance(t testing.TB, db *sql.DB, cfg Config) *Service {
	t.Helper()
	cfg.Shared = db
	if cfg.Nation == "" {
		cfg.Nation = "USA"
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "usa-node"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// TestSharedLedgerConcurrent: two instances record movements at once, in
// parallel on each, some with the same idempotency key on both. The shared
// ledger is one dense sequence (no number used twice, no fork), each key
// recorded once, both instances show the same balances and verify, and a
// third instance opened afterwards (from the checkpoint the others wrote
// as they went) agrees.
// Long on purpose: one scenario (concurrent writes, then the checks on both
// instances and on a third) whose steps share its counts.
func TestSharedLedgerConcurrent(t *testing.T) {
	db := sharedDB(t)
	a := instance(t, db, Config{CheckpointEvery: 7})
	b := instance(t, db, Config{CheckpointEvery: 7})
	ctx := context.Background()
	mustLoc(t, a, usaP, "depot", Depot, relTo("USA", "JPN"))
	// b takes a's location when it takes the lock, before checking.
	mustLoc(t, b, usaP, "btry", Battery, relTo("USA", "JPN"))
	const workers, each = 3, 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for i, s := range []*Service{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					ms := []Movement{{Item: "SM-6", From: Source, To: "depot", Quantity: 5, Reason: Production, Label: relTo("USA", "JPN")}}
					if k%3 == 0 {
						// The same key on both instances: recorded once.
						ms[0].Key = fmt.Sprintf("lot-%d-%d", w, k)
					}
					if k%2 == 1 {
						ms = append(ms, Movement{Item: "SM-6", From: "depot", To: "btry", Quantity: 2, Reason: Issue, Label: relTo("USA", "JPN")})
					}
					if _, err := s.Record(ctx, usaP, ms...); err != nil {
						errs <- fmt.Errorf("instance %d worker %d: %w", i, w, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	var n, maxSeq, keyed int64
	if err := db.QueryRow(`SELECT count(*), max(seq), count(idem) FROM sustain_movements`).Scan(&n, &maxSeq, &keyed); err != nil {
		t.Fatal(err)
	}
	// Per instance and worker: 4 keyed productions (once across both),
	// 8 unkeyed ones and 6 issues.
	wantKeyed := int64(workers * 4)
	wantAll := wantKeyed + 2*workers*(8+6)
	if n != wantAll || maxSeq != n || keyed != wantKeyed {
		t.Fatalf("ledger holds %d movements up to %d (%d keyed), want a dense %d (%d keyed)", n, maxSeq, keyed, wantAll, wantKeyed)
	}
	wantDepot := 5*(wantAll-2*workers*6) - 2*2*workers*6
	for name, s := range map[string]*Service{"a": a, "b": b} {
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if q := qty(s, usaP, "SM-6", "depot", "USA"); q != wantDepot {
			t.Errorf("instance %s: depot %d, want %d", name, q, wantDepot)
		}
		if q := qty(s, usaP, "SM-6", "btry", "USA"); q != 2*2*workers*6 {
			t.Errorf("instance %s: battery %d, want %d", name, q, 2*2*workers*6)
		}
		if err := s.Verify(); err != nil {
			t.Errorf("instance %s: %v", name, err)
		}
	}
	c := instance(t, db, Config{})
	if c.CheckpointSeq() == 0 {
		t.Error("no shared checkpoint was written")
	}
	if q := qty(c, usaP, "SM-6", "depot", "USA"); q != wantDepot {
		t.Errorf("a new instance: depot %d, want %d", q, wantDepot)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	// An instance behind the others verifies after catching up.
	if _, err := a.Record(ctx, usaP, Movement{Item: "SM-6", From: "depot", To: Sink, Quantity: 1, Reason: Expenditure, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestSharedTransferAcrossInstances: a transfer requested on one instance
// is approved, shipped and received on the other; the two instances
// receiving at the same moment record the receipt once.
func TestSharedTransferAcrossInstances(t *testing.T) {
	db := sharedDB(t)
	a := instance(t, db, Config{})
	b := instance(t, db, Config{})
	ctx := context.Background()
	mustLoc(t, a, usaP, "usa-depot", Depot, relTo("USA", "JPN"))
	mustLoc(t, b, jpnP, "jpn-btry", Battery, relTo("JPN", "USA"))
	if _, err := a.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "usa-depot", Quantity: 10, Reason: Production, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	tr, err := a.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 4, From: "usa-depot", To: "jpn-btry", Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		s   *Service
		who string
		act TransferAction
	}{{b, "USA", ActApprove}, {a, "JPN", ActApprove}, {b, "USA", ActShip}, {a, "USA", ActShip}}
	for _, st := range steps {
		p := usaP
		if st.who == "JPN" {
			p = jpnP
		}
		if _, err := st.s.Act(ctx, p, tr.ID, st.act, ""); err != nil {
			t.Fatalf("%s %s: %v", st.who, st.act, err)
		}
	}
	var wg sync.WaitGroup
	for _, s := range []*Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := s.Act(ctx, jpnP, tr.ID, ActReceive, ""); err != nil || got.State != Received {
				t.Errorf("receive: %+v %v", got.State, err)
			}
		}()
	}
	wg.Wait()
	for name, s := range map[string]*Service{"a": a, "b": b} {
		s.Refresh(ctx)
		got, err := s.Transfer(usaP, tr.ID)
		if err != nil || got.State != Received {
			t.Fatalf("instance %s: %+v %v", name, got, err)
		}
		if q := qty(s, jpnP, "PAC-3 MSE", "jpn-btry", "JPN"); q != 4 {
			t.Errorf("instance %s: JPN battery %d, want 4", name, q)
		}
		if q := qty(s, usaP, "PAC-3 MSE", "usa-depot", "USA"); q != 6 {
			t.Errorf("instance %s: USA depot %d, want 6", name, q)
		}
		if err := s.Verify(); err != nil {
			t.Error(err)
		}
	}
	if ms := refMovements(t, a, usaP, tr.ID); len(ms) != 2 {
		t.Fatalf("the transfer moved stock %d times, want ship and receive: %+v", len(ms), ms)
	}
}

// fanout publishes to several publishers.
type fanout []Publisher

func (f fanout) Inject(ctx context.Context, ev *cot.Event) error {
	var err error
	for _, p := range f {
		err = errors.Join(err, p.Inject(ctx, ev))
	}
	return err
}

// TestSharedFederatedTransfer: a federated transfer from a US depot on a
// two-instance USA node to a JPN battery on the JPN node. It is requested
// on instance a, approved and shipped on instance b; the JPN node's
// answers reach both instances (as after a federation lease handover,
// when the peer resends), yet the delivery into EXPORTED is recorded
// once, and both instances show the transfer settled.
func TestSharedFederatedTransfer(t *testing.T) {
	db := sharedDB(t)
	toJPN := &fakeLink{from: "usa-node"}
	toA, toB := &fakeLink{from: "jpn-node"}, &fakeLink{from: "jpn-node"}
	a := instance(t, db, Config{Publisher: toJPN})
	b := instance(t, db, Config{Publisher: toJPN})
	jpn := newService(t, Config{Nation: "JPN", NodeID: "jpn-node", Publisher: fanout{toA, toB}})
	for _, l := range []*fakeLink{toA, toB, toJPN} {
		l.mu.Lock()
	}
	toJPN.peer, toA.peer, toB.peer = jpn, a, b
	for _, l := range []*fakeLink{toA, toB, toJPN} {
		l.mu.Unlock()
	}
	ctx := context.Background()
	mustLoc(t, a, usaP, "usa-depot", Depot, relTo("USA", "JPN"))
	mustLoc(t, jpn, jpnP, "jpn-btry", Battery, relTo("JPN", "USA"))
	if _, err := b.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "usa-depot", Quantity: 10, Reason: Production, Lot: "LM-1", Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	tr, err := a.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 4, From: "usa-depot", To: "jpn-btry", ToNation: "JPN", Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, jpn, jpnP, tr.ID, Requested)
	if _, err := b.Act(ctx, usaP, tr.ID, ActApprove, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := jpn.Act(ctx, jpnP, tr.ID, ActApprove, ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, usaP, tr.ID, Approved)
	if _, err := b.Act(ctx, usaP, tr.ID, ActShip, ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, jpn, jpnP, tr.ID, Shipped)
	if _, err := jpn.Act(ctx, jpnP, tr.ID, ActReceive, ""); err != nil {
		t.Fatal(err)
	}
	jpn.ResendTransfers()
	for name, s := range map[string]*Service{"a": a, "b": b} {
		taktest.WaitUntil(t, "settled on instance "+name, 10*time.Second, func() bool {
			got, err := s.Transfer(usaP, tr.ID)
			return err == nil && got.State == Received && got.Settled
		})
	}
	b.Refresh(ctx)
	if ms := refMovements(t, b, usaP, tr.ID); len(ms) != 2 {
		t.Fatalf("the USA ledger moved the transfer %d times, want ship and deliver: %+v", len(ms), ms)
	}
	if q := qty(a, usaP, "PAC-3 MSE", "usa-depot", "USA"); q != 6 {
		t.Fatalf("USA depot %d, want 6", q)
	}
	if q := qty(jpn, jpnP, "PAC-3 MSE", "jpn-btry", "JPN"); q != 4 {
		t.Fatalf("JPN battery %d, want 4", q)
	}
	for _, s := range []*Service{a, b, jpn} {
		if err := s.Verify(); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkSharedRecord records one movement per operation in the shared
// ledger: on one instance (the lock and no catch-up), and alternately on
// two (each write first applies the other's last commit); and in SQLite
// for comparison.
func BenchmarkSharedRecord(b *testing.B) {
	for _, n := range []int{0, 1, 2} {
		name := fmt.Sprintf("postgres-instances=%d", n)
		if n == 0 {
			name = "sqlite"
		}
		b.Run(name, func(b *testing.B) {
			cfg := Config{Catalogue: []Item{{Name: "20mm"}}}
			ss := []*Service{}
			if n == 0 {
				ss, n = append(ss, newService(b, cfg)), 1
			} else {
				db := sharedDB(b)
				for range n {
					ss = append(ss, instance(b, db, cfg))
				}
			}
			mustLoc(b, ss[0], usaP, "depot", Depot, relTo("USA", "JPN"))
			ctx := context.Background()
			m := Movement{Item: "20mm", From: Source, To: "depot", Quantity: 1, Reason: Production, Label: relTo("USA", "JPN")}
			b.ResetTimer()
			for i := range b.N {
				if _, err := ss[i%n].Record(ctx, usaP, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// capture records the types of the events published.
type capture struct {
	mu    sync.Mutex
	types map[string]int
}

func (c *capture) Inject(ctx context.Context, ev *cot.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.types[ev.Type]++
	return nil
}

func (c *capture) count(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types[typ]
}

// TestReporterGate: an instance that is not the reporter publishes no
// stock report, yet still sends its federated transfers; once it is the
// reporter it reports the changes, including those it only followed.
func TestReporterGate(t *testing.T) {
	var reporter atomic.Bool
	pub := &capture{types: map[string]int{}}
	s := newService(t, Config{Publisher: pub, Reporter: reporter.Load})
	ctx := context.Background()
	mustLoc(t, s, usaP, "depot", Depot, relTo("USA", "JPN"))
	if _, err := s.Record(ctx, usaP, Movement{Item: "SM-6", From: Source, To: "depot", Quantity: 2, Reason: Production, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestTransfer(ctx, usaP, TransferRequest{Item: "SM-6", Quantity: 1, From: "depot", To: "jpn-btry", ToNation: "JPN", Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "the federated transfer sent", 10*time.Second, func() bool { return pub.count(FedType) > 0 })
	if n := pub.count(TypeStock); n != 0 {
		t.Fatalf("%d stock reports from an instance that is not the reporter", n)
	}
	reporter.Store(true)
	if _, err := s.Record(ctx, usaP, Movement{Item: "SM-6", From: Source, To: "depot", Quantity: 1, Reason: Production, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "a stock report from the reporter", 10*time.Second, func() bool { return pub.count(TypeStock) > 0 })
}
