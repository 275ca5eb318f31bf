package sustain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/gob"
	"errors"
	"fmt"
	"sort"

	"kizuna/internal/label"
)

// Checkpoints.
//
// A checkpoint is the derived state of the ledger (balances with their
// labels, serial positions, the conservation counters, the recent
// expenditures and the idempotency keys) as of one movement sequence
// number, stored in the same database with a SHA-256 of its encoding.
// Opening the ledger reads the checkpoint and replays only the movements
// recorded after it; a missing, unreadable or corrupt checkpoint falls
// back to the full replay. The movements stay the record: Verify still
// replays every one of them from scratch and compares the result with the
// live state, so a checkpoint can speed start-up but never change a
// balance unnoticed.
//
// A checkpoint is written when the tail since the last one reaches
// Config.CheckpointEvery movements (in the committing call, under the
// service lock) and when the service stops. In cluster mode the instances
// share one checkpoint, which only moves forward (shared.go).

const checkpointSchema = `
CREATE TABLE IF NOT EXISTS sustain_checkpoint (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL,
	sum BLOB NOT NULL,
	doc BLOB NOT NULL
);`

// DefaultCheckpointEvery is the default tail length that triggers a checkpoint.
const DefaultCheckpointEvery = 50_000

type cpBalance struct {
	Item, Loc, Owner string
	Qty              int64
	Label            label.Label
}

type cpSerial struct {
	Item, Serial, Loc, Owner, Lot string
	Expended                      bool
}

type cpSpends struct {
	Item, Loc   string
	T, Qty, Cum []int64
}

type checkpointDoc struct {
	Seq                                    int64
	Balances                               []cpBalance
	Serials                                []cpSerial
	Produced, Expended, Imported, Exported map[string]int64
	Spends                                 []cpSpends
	Keys                                   map[string]int64
}

// snapshot encodes the derived state of l.
func (l *ledger) snapshot() ([]byte, error) {
	d := checkpointDoc{Seq: l.lastSeq, Produced: l.produced, Expended: l.expended, Imported: l.imported, Exported: l.exported, Keys: l.keys,
		Balances: make([]cpBalance, 0, len(l.bal))}
	for k, b := range l.bal {
		d.Balances = append(d.Balances, cpBalance{Item: k.item, Loc: k.loc, Owner: k.owner, Qty: b.qty, Label: b.label})
	}
	sort.Slice(d.Balances, func(i, j int) bool {
		a, b := d.Balances[i], d.Balances[j]
		return a.Item+"\x00"+a.Loc+"\x00"+a.Owner < b.Item+"\x00"+b.Loc+"\x00"+b.Owner
	})
	for item, known := range l.serials {
		for s, p := range known {
			d.Serials = append(d.Serials, cpSerial{Item: item, Serial: s, Loc: p.loc, Owner: p.owner, Lot: p.lot, Expended: p.expended})
		}
	}
	for k, sp := range l.spends {
		c := cpSpends{Item: k[0], Loc: k[1], T: make([]int64, len(sp)), Qty: make([]int64, len(sp)), Cum: make([]int64, len(sp))}
		for i, x := range sp {
			c.T[i], c.Qty[i], c.Cum[i] = x.t, x.qty, x.cum
		}
		d.Spends = append(d.Spends, c)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&d); err != nil {
		return nil, fmt.Errorf("sustain: encoding checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}

// restore fills an empty ledger from an encoded checkpoint.
func (l *ledger) restore(doc []byte) error {
	var d checkpointDoc
	if err := gob.NewDecoder(bytes.NewReader(doc)).Decode(&d); err != nil {
		return fmt.Errorf("decoding checkpoint: %w", err)
	}
	l.lastSeq = d.Seq
	for _, m := range []struct {
		dst *map[string]int64
		src map[string]int64
	}{{&l.produced, d.Produced}, {&l.expended, d.Expended}, {&l.imported, d.Imported}, {&l.exported, d.Exported}, {&l.keys, d.Keys}} {
		if m.src != nil {
			*m.dst = m.src
		}
	}
	for _, b := range d.Balances {
		l.bal[key{b.Item, b.Loc, b.Owner}] = &balance{qty: b.Qty, label: b.Label}
	}
	for _, s := range d.Serials {
		known := l.serials[s.Item]
		if known == nil {
			known = map[string]serialPos{}
			l.serials[s.Item] = known
		}
		known[s.Serial] = serialPos{loc: s.Loc, owner: s.Owner, lot: s.Lot, expended: s.Expended}
	}
	for _, c := range d.Spends {
		if len(c.Qty) != len(c.T) || len(c.Cum) != len(c.T) {
			return errors.New("checkpoint: malformed expenditure history")
		}
		sp := make([]spend, len(c.T))
		for i := range sp {
			sp[i] = spend{t: c.T[i], qty: c.Qty[i], cum: c.Cum[i]}
		}
		l.spends[[2]string{c.Item, c.Loc}] = sp
	}
	return nil
}

// loadCheckpoint returns the stored checkpoint, or nil when there is none
// or it does not match its checksum.
func (s *Service) loadCheckpoint(ctx context.Context, q querier) (seq int64, doc []byte, err error) {
	var sum []byte
	err = q.QueryRowContext(ctx, `SELECT seq, sum, doc FROM sustain_checkpoint WHERE id = 1`).Scan(&seq, &sum, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sustain: reading checkpoint: %w", err)
	}
	if h := sha256.Sum256(doc); !bytes.Equal(h[:], sum) {
		s.log.Error("sustain: checkpoint does not match its checksum; replaying every movement", "seq", seq)
		return 0, nil, nil
	}
	return seq, doc, nil
}

// checkpointLocked writes the derived state of the live ledger. Caller
// holds s.mu.
func (s *Service) checkpointLocked() error {
	if s.led.lastSeq == s.cpSeq {
		return nil
	}
	doc, err := s.led.snapshot()
	if err != nil {
		return err
	}
	h := sha256.Sum256(doc)
	query := `INSERT INTO sustain_checkpoint(id, seq, sum, doc) VALUES(1,?,?,?)
		ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, sum=excluded.sum, doc=excluded.doc`
	if s.pg {
		// Instances share the checkpoint: it only moves forward.
		query += ` WHERE sustain_checkpoint.seq < excluded.seq`
	}
	if _, err := s.db.Exec(s.q(query), s.led.lastSeq, h[:], doc); err != nil {
		return fmt.Errorf("sustain: writing checkpoint: %w", err)
	}
	s.cpSeq = s.led.lastSeq
	return nil
}

// Checkpoint writes a checkpoint of the ledger now.
func (s *Service) Checkpoint() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpointLocked()
}

// CheckpointSeq is the sequence number of the last checkpoint (0: none).
func (s *Service) CheckpointSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cpSeq
}
