package federation

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/pki"
)

type nopHost struct{}

func (nopHost) IngestFederated(*cot.Event, label.Label, *Provenance) error { return nil }

// startAlone starts a federation whose one peer never answers.
func startAlone(t *testing.T, maxQueue int) *Federation {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.InitCA(filepath.Join(dir, "ca"), "USA")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssueNode("usa-hub", []string{"127.0.0.1"}, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := pki.NewTrustStore(pki.TrustConfig{Trust: map[string]string{"USA": filepath.Join(dir, "ca", pki.CACertFile)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}
	f, err := New(Config{
		NodeID: "usa-hub", Nation: "USA", DataDir: dir, Host: nopHost{}, MaxQueue: maxQueue,
		Peers: []PeerConfig{{Name: "jpn-node", Classification: label.Secret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background(), trust, &cert); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return f
}

func tap(f *Federation, uid, typ string) {
	now := time.Now()
	ev := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "m-g", Time: now, Start: now, Stale: now.Add(time.Hour)}
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}, Originator: "USA"}
	ev.SetLabel(l)
	f.Tap(hub.NewMessage(ev, l, 0, nil), nil)
}

// queuedUIDs lists the peer's queue, routine lane, oldest first.
func queuedUIDs(t *testing.T, f *Federation, lane int) []string {
	t.Helper()
	qs, err := readQueue(context.Background(), f.db, "jpn-node", lane, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range qs {
		e, err := DecodeEventBody(q.body)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := cot.DecodeUnchecked(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.UID)
	}
	return out
}

// TestQueueWhileDown: with the link down, superseded position reports of
// a uid are compacted, messages and warnings never are, flash events take
// their own lane, and the queue stays within its bound by shedding
// position reports first, then the oldest routine events.
func TestQueueWhileDown(t *testing.T) {
	f := startAlone(t, 60)
	ctx := context.Background()
	for i := range 20 {
		tap(f, "pos-a", "a-f-G-U-C") // 20 updates of one uid
		tap(f, fmt.Sprintf("msg-%d", i), "b-t-f")
		if err := f.waitFlushed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tap(f, "tbm-1", "a-h-A-W-M-S-S")
	if err := f.waitFlushed(ctx); err != nil {
		t.Fatal(err)
	}
	routine := queuedUIDs(t, f, LaneRoutine)
	if len(routine) != 21 {
		t.Fatalf("routine lane %d events, want 20 messages + 1 position: %v", len(routine), routine)
	}
	if n := count(routine, "pos-a"); n != 1 {
		t.Errorf("pos-a queued %d times, want only the newest: %v", n, routine)
	}
	if flash := queuedUIDs(t, f, LaneFlash); len(flash) != 1 || flash[0] != "tbm-1" {
		t.Errorf("flash lane: %v", flash)
	}
	// Over the bound (60): positions of 40 new uids, then 20 messages: 82
	// queued, the 22 oldest position reports go.
	for i := range 40 {
		tap(f, fmt.Sprintf("pos-%d", i), "a-f-G-U-C")
	}
	for i := 20; i < 40; i++ {
		tap(f, fmt.Sprintf("msg-%d", i), "b-t-f")
	}
	if err := f.waitFlushed(ctx); err != nil {
		t.Fatal(err)
	}
	routine = queuedUIDs(t, f, LaneRoutine)
	if n := len(routine) + len(queuedUIDs(t, f, LaneFlash)); n != 60 {
		t.Fatalf("queue holds %d, bound 60", n)
	}
	msgs := 0
	for _, u := range routine {
		if len(u) > 4 && u[:4] == "msg-" {
			msgs++
		}
	}
	if msgs != 40 {
		t.Errorf("%d messages kept, want all 40 (position reports go first): %v", msgs, routine)
	}
	st := f.Status().Peers[0]
	if st.Queue != 60 || st.Dropped != 22 || st.State != "down" || st.LagSeconds <= 0 {
		t.Errorf("status %+v", st)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
