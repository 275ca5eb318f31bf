package store

import (
	"sync/atomic"
	"time"
)

// FlushCounters are the flush and retention counters a backend keeps for
// its Stats. The zero value is ready; it is safe for concurrent use.
type FlushCounters struct {
	flushes, flushErrs, flushedObjs, flushedHist, pruned atomic.Uint64
	inFlight, lastFlush, flushTime, lastRows             atomic.Int64
}

// Begin marks rows as being written.
func (c *FlushCounters) Begin(rows int) { c.inFlight.Store(int64(rows)) }

// Failed counts a failed flush; nothing is in flight any more.
func (c *FlushCounters) Failed() {
	c.inFlight.Store(0)
	c.flushErrs.Add(1)
}

// Done counts a flush of objs objects and hist history rows that took took.
func (c *FlushCounters) Done(objs, hist int, took time.Duration) {
	c.inFlight.Store(0)
	c.flushes.Add(1)
	c.flushedObjs.Add(uint64(objs))
	c.flushedHist.Add(uint64(hist))
	c.lastFlush.Store(int64(took))
	c.flushTime.Add(int64(took))
	c.lastRows.Store(int64(objs + hist))
}

// Pruned counts history rows removed by retention.
func (c *FlushCounters) Pruned(n uint64) { c.pruned.Add(n) }

// Fill copies the counters into st.
func (c *FlushCounters) Fill(st *Stats) {
	st.InFlight = int(c.inFlight.Load())
	st.Flushes = c.flushes.Load()
	st.FlushErrors = c.flushErrs.Load()
	st.FlushedObjects = c.flushedObjs.Load()
	st.FlushedHistory = c.flushedHist.Load()
	st.RetentionPruned = c.pruned.Load()
	st.LastFlush = time.Duration(c.lastFlush.Load())
	st.FlushTime = time.Duration(c.flushTime.Load())
	st.LastFlushRows = int(c.lastRows.Load())
}

// Failures is the number of failed flushes so far.
func (c *FlushCounters) Failures() uint64 { return c.flushErrs.Load() }
