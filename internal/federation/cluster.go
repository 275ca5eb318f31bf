package federation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kizuna/internal/hub"
)

// Federation in cluster mode.
//
// A node that runs as several instances holds each peer link on one of
// them at a time: the holder of the link's lease (the node wires the
// leases). That instance runs this package for that one peer (Scope
// names it: the link's epoch and input position are kept under their own
// keys), with three more changes, all set in Config:
//
//   - Shared: the durable state (outbound queues, the peers' received
//     marks, the duplicate windows, the origin certificates, the epochs)
//     lives in the cluster's PostgreSQL instead of the data directory, so
//     that the next holder finds it.
//   - Input: the events to route do not come from the tap of this
//     instance but from the node's shared log (the JetStream stream every
//     instance publishes what it accepts to), read in order through Input
//     with their log position. The position is committed in the same
//     transaction as the queue rows routed from it, so a new holder
//     resumes reading exactly after what was queued: nothing is queued
//     twice, nothing skipped. An event the node originates gets the origin
//     sequence number originEpoch<<SeqBits | position: the same whichever
//     instance routes it, so that an event routed and sent by a holder
//     that died before its commit, routed again by the next, is dropped
//     by the peer as the duplicate it is.
//   - BeforeAck: an event received from a peer is acknowledged only once
//     BeforeAck returns nil, which the node makes its proof that the event
//     is in the shared log; until then the received marks and duplicate
//     marks stay pending.
//
// Every commit first checks, under a row lock, that the epoch in the
// shared database is still the one this holder took at Start: a holder
// that lost its lease without noticing (paused, partitioned) cannot
// write once a new holder has started; it stops (ErrFenced).

// ErrFenced ends a holder whose place another instance has taken.
var ErrFenced = errors.New("federation taken over by another instance")

// maxInputPending is how many input events may wait for a commit before
// Input waits for the flusher.
const maxInputPending = 50_000

// InputPos returns the shared log position up to which events were
// queued: the reader resumes after it. Valid after Start.
func (f *Federation) InputPos() uint64 { return f.inputPos }

// Input takes the next event of the node's shared log (with its federation
// provenance, nil for an event that entered at one of the node's
// instances), at position pos
// (strictly increasing). Messages that cannot cross a link only advance
// the position.
func (f *Federation) Input(m *hub.Message, fed *Provenance, pos uint64) {
	if f.closing.Load() || !f.cfg.Input {
		return
	}
	f.mu.Lock()
	if federable(m) && len(f.links) > 0 {
		p := pending{m: m, fed: fed, flash: m.Flash}
		if fed == nil {
			p.oseq = f.originEpoch<<SeqBits | pos&(1<<SeqBits-1)
		}
		f.pend.msgs = append(f.pend.msgs, p)
	}
	f.pend.input = max(f.pend.input, pos)
	n := len(f.pend.msgs)
	f.mu.Unlock()
	if m.Flash {
		f.kick()
	}
	if n > maxInputPending && f.ctx != nil {
		ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
		f.waitFlushed(ctx)
		cancel()
	}
}

// Fenced reports whether another instance took this holder's place.
func (f *Federation) Fenced() bool { return f.fenced.Load() }

// key names a meta entry of this federation: of its link (Scope) when it
// carries one link of a cluster, of the node otherwise.
func (f *Federation) key(k string) string {
	if f.cfg.Scope == "" {
		return k
	}
	return k + "." + f.cfg.Scope
}

// loadInput restores the input position and the origin epoch. A new
// shared log (another InputID: the stream was recreated, its positions
// start again) takes a new origin epoch, so that no origin sequence
// number is ever reused. The origin epoch is the node's, shared by all
// its links (a peer that receives one event over two paths sees one
// origin sequence number); it changes under the lock of the log's row,
// so that links starting at once on several instances agree on it. The
// input position is the link's; a link without one starts from the
// position of the node's single federation of earlier versions, if any.
func (f *Federation) loadInput(ctx context.Context) error {
	tx, err := f.db.Begin()
	if err != nil {
		return fmt.Errorf("reading input position: %w", err)
	}
	defer tx.Rollback()
	get := func(key, lock string) (uint64, bool, error) {
		var v int64
		err := tx.QueryRow(`SELECT value FROM meta WHERE key = ?`+lock, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("reading %s: %w", key, err)
		}
		return uint64(v), true, nil
	}
	put := func(key string, v uint64) error {
		if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, int64(v)); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		return nil
	}
	if _, err := tx.Exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('input_id', 0)`); err != nil {
		return fmt.Errorf("writing input_id: %w", err)
	}
	id, _, err := get("input_id", " FOR UPDATE")
	if err != nil {
		return err
	}
	oe, _, err := get("origin_epoch", "")
	if err != nil {
		return err
	}
	newLog := id != f.cfg.InputID || oe == 0
	if newLog {
		oe = max(oe+1, epochStart())
		if err := errors.Join(put("origin_epoch", oe), put("input_id", f.cfg.InputID), put("input", 0)); err != nil {
			return err
		}
	}
	pos, _, err := get(f.key("input"), "")
	if err != nil {
		return err
	}
	if f.cfg.Scope != "" {
		lid, known, err := get(f.key("input_id"), "")
		if err != nil {
			return err
		}
		switch {
		case !known && !newLog:
			if pos, _, err = get("input", ""); err != nil {
				return err
			}
		case newLog || lid != f.cfg.InputID:
			pos = 0
		}
		if err := errors.Join(put(f.key("input_id"), f.cfg.InputID), put(f.key("input"), pos)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording input position: %w", err)
	}
	f.originEpoch, f.inputPos = oe, pos
	return nil
}

// fence checks, in the commit's transaction, that this holder's epoch is
// still the shared one, and records the input position.
func (f *Federation) fence(tx *ftx, input uint64) error {
	var v int64
	if err := tx.QueryRow(`SELECT value FROM meta WHERE key = ? FOR UPDATE`, f.key("epoch")).Scan(&v); err != nil {
		return fmt.Errorf("reading epoch: %w", err)
	}
	if uint64(v) != f.epoch {
		return fmt.Errorf("%w: epoch %d, ours %d", ErrFenced, v, f.epoch)
	}
	if input > 0 {
		if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, f.key("input"), int64(input)); err != nil {
			return fmt.Errorf("recording input position: %w", err)
		}
	}
	return nil
}

// guardAcks keeps the batch's received and duplicate marks pending until
// BeforeAck says what was ingested is durable.
func (f *Federation) guardAcks(b *batch) {
	if len(b.recv) == 0 && len(b.seen) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := f.cfg.BeforeAck(ctx)
	cancel()
	if err == nil {
		return
	}
	f.log.Warn("federation acknowledgements held back", "err", err)
	f.mu.Lock()
	f.pend.recv = append(b.recv, f.pend.recv...)
	f.pend.seen = append(b.seen, f.pend.seen...)
	f.mu.Unlock()
	b.recv, b.seen = nil, nil
}

// retry puts back a batch whose commit failed (cluster mode: the shared
// database was unreachable), to be committed by a later flush; a fenced
// holder stops instead.
func (f *Federation) retry(b batch, err error) {
	if errors.Is(err, ErrFenced) {
		f.fenced.Store(true)
		f.log.Error("federation stopped: another instance holds it now", "err", err)
		if f.cancel != nil {
			f.cancel()
		}
		for _, l := range f.links {
			l.closeConn(ErrFenced)
		}
		return
	}
	f.mu.Lock()
	f.pend.msgs = append(b.msgs, f.pend.msgs...)
	f.pend.input = max(f.pend.input, b.input)
	f.pend.recv = append(b.recv, f.pend.recv...)
	f.pend.seen = append(b.seen, f.pend.seen...)
	f.pend.acks = append(b.acks, f.pend.acks...)
	f.pend.drops = append(b.drops, f.pend.drops...)
	f.mu.Unlock()
}

// ErrHostUnavailable, wrapped by the Host's IngestFederated error, means
// the node cannot take events now (cluster mode: NATS or PostgreSQL
// unreachable). The event is then not marked received, nothing after it
// on that connection is handled, and the connection is closed: the peer
// sends it again on the next link, from what this node acknowledged.
var ErrHostUnavailable = errors.New("node cannot take events now")

// hostUnavailable undoes the receipt of e and ends the connection.
func (c *conn) hostUnavailable(e *Event) {
	f, l, lane := c.l.f, c.l, int(e.Lane)
	c.unavailable.Store(true)
	f.dd.mu.Lock()
	f.window(e.OriginNode, e.OriginSeq).remove(e.OriginSeq)
	f.dd.mu.Unlock()
	l.mu.Lock()
	if l.recvMem[lane] == e.Seq {
		l.recvMem[lane] = e.Seq - 1
	}
	l.mu.Unlock()
	c.close(ErrHostUnavailable)
}
