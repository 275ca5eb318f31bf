package federation

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/pki"
)

// Defaults of Config.
const (
	DefaultMaxQueue      = 250_000
	DefaultFlushInterval = 20 * time.Millisecond
	DefaultHeartbeat     = 5 * time.Second
	DefaultLinkTimeout   = 20 * time.Second
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultMaxInFlight   = 20_000
	DefaultWriteChunk    = 64 << 10
	DefaultNotSentLowat  = 16 << 10
	DefaultRecvQueue     = 16 << 20
	handshakeTimeout     = 10 * time.Second
	sendBatch            = 256
)

// Errors a link fails with.
var (
	ErrNotPeer      = errors.New("node is not a declared federation peer")
	ErrNationPinned = errors.New("peer's certificate names another nation than it had before")
	ErrHello        = errors.New("bad federation hello")
	ErrClosed       = errors.New("federation closed")
	// ErrDuplicateLink ends the second of two links between the same
	// nodes when both dial each other.
	ErrDuplicateLink = errors.New("duplicate link: the one dialled by the lower node id is kept")
	// ErrReplaced ends a link that a newer one from the same peer replaced.
	ErrReplaced = errors.New("replaced by a new connection")
)

// Provenance is the federation provenance of an event that arrived from
// a peer. The node passes it back to Tap beside the published message.
type Provenance struct {
	OriginNode string   // node id where the event entered the federation
	Seq        uint64   // the origin node's sequence number for it
	Path       []string // node ids it crossed, origin first
	Peer       string   // the peer it arrived from at this node
	// Signed is the origin's signed record (label, proof, payload) as
	// federation received and verified it; a relay forwards it unchanged.
	Signed []byte
}

// Host is the node as federation sees it.
type Host interface {
	// IngestFederated accepts an event from a peer, keeping its label and
	// originator, and publishes it (the tap sees it again with fed).
	IngestFederated(ev *cot.Event, l label.Label, fed *Provenance) error
}

// PeerConfig is one declared peer (--peer NAME=[HOST:PORT][@CLASSIFICATION]).
type PeerConfig struct {
	Name string
	// Addr is dialled when set; otherwise the peer's inbound link is
	// awaited.
	Addr string
	// Classification is the highest level the link is accredited for.
	Classification label.Classification
}

// Config configures federation for one node.
type Config struct {
	NodeID  string
	Nation  string
	DataDir string
	Peers   []PeerConfig
	Host    Host
	Log     *slog.Logger
	// Audit records link events (up, down, refused). Optional.
	Audit func(ctx context.Context, r audit.Record)

	// MaxFrame is the largest frame accepted (default 1 MiB + HeaderSlack).
	MaxFrame int
	// MaxQueue bounds each peer's durable queue (default DefaultMaxQueue).
	MaxQueue int
	// FlushInterval is how often routine traffic is committed and sent.
	FlushInterval time.Duration
	// Heartbeat is the heartbeat period; LinkTimeout closes a silent link.
	Heartbeat, LinkTimeout time.Duration
	// MinBackoff and MaxBackoff bound the redial delay.
	MinBackoff, MaxBackoff time.Duration
	// MaxInFlight bounds unacknowledged events per lane of a link.
	MaxInFlight int

	// The flash path through a link (see "Flash across a link" in doc.go).
	// WriteChunk bounds the routine bytes of one link write, so that a
	// flash event waits behind at most that much in the writer (default
	// DefaultWriteChunk; negative: one write per batch of sendBatch
	// events). NotSentLowat sets TCP_NOTSENT_LOWAT on link sockets, so
	// that it waits behind at most that much unsent in the kernel
	// (default DefaultNotSentLowat; negative: the kernel's default).
	// RecvQueue bounds the bytes of routine events read off a link ahead
	// of their handling, so that the reader keeps draining the socket and
	// handles a flash event as soon as it arrives (default
	// DefaultRecvQueue; negative: every event handled as it is read).
	WriteChunk, NotSentLowat, RecvQueue int

	// Cluster mode (see cluster.go): the queue lives in Shared, events
	// come through Input, and BeforeAck guards acknowledgements.
	Shared    *sql.DB
	Input     bool
	InputID   uint64
	BeforeAck func(context.Context) error
	// Scope, in cluster mode, names the one peer link this federation
	// carries: its epoch and input position are kept under their own
	// keys, so that each link of a node is held by its own instance.
	Scope string
	// Dedup, when set, is the duplicate windows shared with the other
	// federations of this process (one per link held in cluster mode), so
	// that an event arriving over two links is taken once.
	Dedup *Dedup
}

func (c *Config) defaults() error {
	if !ValidNodeID(c.NodeID) {
		return fmt.Errorf("federation: bad node id %q", c.NodeID)
	}
	if !label.ValidNation(c.Nation) {
		return fmt.Errorf("federation: bad nation %q", c.Nation)
	}
	if c.Host == nil {
		return errors.New("federation: no host")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = cot.MaxEventSize + HeaderSlack
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.LinkTimeout <= 0 {
		c.LinkTimeout = DefaultLinkTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.WriteChunk == 0 {
		c.WriteChunk = DefaultWriteChunk
	}
	if c.NotSentLowat == 0 {
		c.NotSentLowat = DefaultNotSentLowat
	}
	if c.RecvQueue == 0 {
		c.RecvQueue = DefaultRecvQueue
	}
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if !ValidNodeID(p.Name) || seen[p.Name] || p.Name == c.NodeID {
			return fmt.Errorf("federation: peer name %q empty, repeated or this node's own", p.Name)
		}
		seen[p.Name] = true
		if !p.Classification.Valid() {
			return fmt.Errorf("federation: peer %s: no classification", p.Name)
		}
	}
	return nil
}

// Federation is one node's side of every federation link.
type Federation struct {
	cfg   Config
	log   *slog.Logger
	links []*link
	byID  map[string]*link

	db    *fdb
	trust *pki.TrustStore
	cert  *tls.Certificate
	ln    net.Listener

	mu      sync.Mutex
	pend    batch
	urgent  chan struct{}
	flushed chan struct{} // closed and replaced after every flush
	// flushGen numbers the flushes as they take the pending batch;
	// flushDone is the number of the last one finished (both under mu).
	flushGen, flushDone uint64

	epoch     uint64
	originSeq atomic.Uint64 // last origin sequence number handed out
	// Cluster mode (cluster.go): the epoch of origin sequence numbers
	// derived from input positions, the input position restored at Start,
	// and whether another holder took over.
	originEpoch, inputPos uint64
	fenced                atomic.Bool

	// flashMu orders flash routing: the flash lane's sequence numbers are
	// handed out and the rows queued for the flusher under it.
	flashMu   sync.Mutex
	flashRows []outRow

	// dd holds the duplicate windows, shared by the federations of one
	// process in cluster mode (Config.Dedup).
	dd *Dedup

	// signer signs what this node originates; verifier proves the origin
	// of what it receives (origin.go).
	signer   *Signer
	verifier *verifier

	stats struct {
		loops, dups, denied, badFrames, overflow, compacted, unreleasableIn, notOwnerDirect atomic.Uint64
		// unverified: events refused because their origin could not be
		// proven; unprovable: relayed events this node could not forward
		// with a proof; badCerts: certificates peers sent that did not verify.
		unverified, unprovable, badCerts atomic.Uint64
	}

	hookMu sync.Mutex
	onUp   []func(peer string)

	started atomic.Bool
	ready   atomic.Bool // queue open, links loaded: flash events route at once
	closing atomic.Bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	flushWG sync.WaitGroup
}

// batch is what the tap and the links hand to the flusher.
type batch struct {
	msgs  []pending
	input uint64     // position in the node's shared log (cluster mode)
	recv  []laneMark // events received, to acknowledge once committed
	seen  []seenMark
	acks  []laneMark // the peer acknowledged: delete up to seq
	drops []laneMark // withheld at send time: delete that one event
}

type pending struct {
	m     *hub.Message
	fed   *Provenance // nil for a local event
	flash bool
	// oseq and rec are set for events this node originates once they are
	// signed: the origin sequence and the signed record (label, auth,
	// payload). A local event without rec is routed nowhere.
	oseq uint64
	rec  []byte
}

type laneMark struct {
	l    *link
	lane int
	seq  uint64
}

type seenMark struct {
	origin string
	seq    uint64
}

// New validates cfg. Nothing is opened until Start.
func New(cfg Config) (*Federation, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	f := &Federation{
		cfg:     cfg,
		log:     cfg.Log.With("component", "federation"),
		byID:    map[string]*link{},
		urgent:  make(chan struct{}, 1),
		flushed: make(chan struct{}),
		dd:      cfg.Dedup,
	}
	if f.dd == nil {
		f.dd = NewDedup()
	}
	for _, p := range cfg.Peers {
		l := newLink(f, p)
		f.links = append(f.links, l)
		f.byID[p.Name] = l
	}
	return f, nil
}

// Tap takes every message the node publishes, with its provenance when it
// arrived over federation (nil for a local event). It never blocks: the
// message joins the batch the flusher commits next (at once for flash).
func (f *Federation) Tap(m *hub.Message, fed *Provenance) {
	if f.cfg.Input || !federable(m) || f.closing.Load() {
		return
	}
	if len(f.links) == 0 {
		return
	}
	if m.Flash {
		f.routeFlash(pending{m: m, fed: fed, flash: true})
		return
	}
	f.mu.Lock()
	f.pend.msgs = append(f.pend.msgs, pending{m: m, fed: fed})
	f.mu.Unlock()
}

// federable reports whether a published message may cross a federation
// link at all.
func federable(m *hub.Message) bool {
	return m.Kind == hub.KindEvent && m.Event != nil && !m.Event.IsControl() && !m.Event.IsPing()
}

// routeFlash routes a flash event at once: its rows go to the flusher to
// be made durable and, at the same time, to each link's in-memory flash
// list, from which the link's writer sends them without waiting for the
// commit. Sequence numbers are never reused (see SeqBits), so an event
// sent but lost in a crash before its commit cannot be confused with
// another.
func (f *Federation) routeFlash(fp pending) {
	if !f.ready.Load() {
		f.mu.Lock()
		f.pend.msgs = append(f.pend.msgs, fp)
		f.mu.Unlock()
		f.kick()
		return
	}
	p := []pending{fp}
	f.flashMu.Lock()
	f.signLocal(p)
	n := len(f.flashRows)
	f.flashRows = f.route(f.flashRows, p[0])
	added := f.flashRows[n:]
	for _, r := range added {
		r.l.pushHot(queued{seq: r.seq, body: r.body})
	}
	f.flashMu.Unlock()
	for _, r := range added {
		r.l.wake()
	}
	f.kick()
}

func (f *Federation) kick() {
	select {
	case f.urgent <- struct{}{}:
	default:
	}
}

// Listen binds the federation listener. Connections are served once
// Start has run.
func (f *Federation) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening federation on %s: %w", addr, err)
	}
	f.ln = ln
	return ln.Addr(), nil
}

// Start opens the durable queue and starts the flusher, the listener's
// accept loop and the dialers. trust and cert are the node's.
func (f *Federation) Start(ctx context.Context, trust *pki.TrustStore, cert *tls.Certificate) error {
	if !f.started.CompareAndSwap(false, true) {
		return errors.New("federation already started")
	}
	if trust == nil || cert == nil {
		return errors.New("federation needs the node's certificate and trust store")
	}
	f.trust, f.cert = trust, cert
	signer, err := NewSigner(f.cfg.NodeID, *cert)
	if err != nil {
		return err
	}
	f.signer, f.verifier = signer, newVerifier(trust)
	f.verifier.addOwn(signer.CertDER())
	if _, _, err := f.verifier.addCert(signer.CertDER()); err != nil {
		f.log.Warn("the node's own certificate does not verify: peers will refuse what it originates", "err", err)
	}
	var db *fdb
	if f.cfg.Shared != nil {
		db = &fdb{DB: f.cfg.Shared, pg: true}
	} else if db, err = openDB(filepath.Join(f.cfg.DataDir, DBFile)); err != nil {
		return err
	}
	f.db = db
	if f.epoch, err = nextEpoch(ctx, db, f.key("epoch")); err != nil {
		return err
	}
	f.originSeq.Store(f.epoch << SeqBits)
	if f.cfg.Input {
		if err := f.loadInput(ctx); err != nil {
			return err
		}
	}
	if err := f.loadSeen(ctx); err != nil {
		return err
	}
	if err := f.loadCerts(ctx); err != nil {
		return err
	}
	for _, l := range f.links {
		pr, err := loadPeer(ctx, db, l.name)
		if err != nil {
			return err
		}
		d, err := queueDepth(ctx, db, l.name)
		if err != nil {
			return fmt.Errorf("counting queue of %s: %w", l.name, err)
		}
		l.load(pr, d, f.epoch)
	}
	f.ready.Store(true)
	f.startLoops(trust)
	f.log.Info("federation started", "peers", len(f.links))
	return nil
}

// startLoops starts the federation's loops: flushing, accepting, closing links
// whose peer certificate is revoked, and dialling the configured peers.
func (f *Federation) startLoops(trust *pki.TrustStore) {
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.flushWG.Add(1)
	go func() {
		defer f.flushWG.Done()
		f.flushLoop(f.ctx)
	}()
	if f.ln != nil {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.acceptLoop(f.ctx)
		}()
	}
	revoked := trust.Subscribe()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.ctx.Done():
				return
			case <-revoked:
				f.closeRevoked()
			}
		}
	}()
	for _, l := range f.links {
		if l.addr != "" {
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				l.dialLoop(f.ctx)
			}()
		}
	}
}

// Close stops every link, commits what is pending and closes the queue.
func (f *Federation) Close(ctx context.Context) error {
	if !f.started.Load() || !f.closing.CompareAndSwap(false, true) {
		return nil
	}
	if f.cancel == nil { // Start failed before anything ran
		if f.ln != nil {
			f.ln.Close()
		}
		if f.db != nil && f.cfg.Shared == nil {
			return f.db.Close()
		}
		return nil
	}
	f.cancel()
	if f.ln != nil {
		f.ln.Close()
	}
	for _, l := range f.links {
		l.closeConn(ErrClosed)
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); f.flushWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("closing federation: %w", ctx.Err())
	}
	f.flush() // whatever the links and the tap left
	if f.cfg.Shared != nil {
		return nil // the node's
	}
	return f.db.Close()
}

// closeRevoked ends every link whose peer certificate is now revoked; the
// peer's next attempt fails at the handshake.
func (f *Federation) closeRevoked() {
	for _, l := range f.links {
		l.mu.Lock()
		c := l.conn
		l.mu.Unlock()
		if c != nil && f.trust.Revoked(c.peer.Cert) {
			f.log.Warn("federation link closed: peer certificate revoked", "peer", l.name)
			f.audit("federation.revoked", c.peer.ID+"@"+c.peer.Nation, "deny", pki.ErrRevoked.Error())
			c.close(pki.ErrRevoked)
		}
	}
}

func (f *Federation) audit(action, object, decision, reason string) {
	if f.cfg.Audit == nil {
		return
	}
	f.cfg.Audit(context.Background(), audit.Record{Actor: "node:" + f.cfg.NodeID, Action: action, Object: object, Decision: decision, Reason: reason})
}

// windowKey names one duplicate window: an origin node in one epoch.
type windowKey struct {
	origin string
	epoch  uint64
}

// maxEpochWindows is how many epochs of one origin keep a window.
const maxEpochWindows = 4

// loadSeen restores the duplicate windows.
func (f *Federation) loadSeen(ctx context.Context) error {
	rows, err := f.db.QueryContext(ctx, `SELECT origin, seq FROM seen ORDER BY origin, seq`)
	if err != nil {
		return fmt.Errorf("reading seen events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		var s int64
		if err := rows.Scan(&o, &s); err != nil {
			return err
		}
		f.dd.mu.Lock()
		f.window(o, uint64(s)).add(uint64(s))
		f.dd.mu.Unlock()
	}
	return rows.Err()
}

// window returns the duplicate window of seq's origin and epoch, creating
// it and forgetting the oldest epochs of that origin beyond
// maxEpochWindows. The caller holds dd.mu.
func (f *Federation) window(origin string, seq uint64) *window {
	k := windowKey{origin, epochOf(seq)}
	w := f.dd.windows[k]
	if w == nil {
		w = newWindow()
		f.dd.windows[k] = w
		var epochs []uint64
		for o := range f.dd.windows {
			if o.origin == origin {
				epochs = append(epochs, o.epoch)
			}
		}
		if len(epochs) > maxEpochWindows {
			slices.Sort(epochs)
			for _, e := range epochs[:len(epochs)-maxEpochWindows] {
				delete(f.dd.windows, windowKey{origin, e})
			}
		}
	}
	return w
}

// seenBefore checks and records an origin sequence number. An epoch older
// than the windows kept counts as seen.
func (f *Federation) seenBefore(origin string, seq uint64) bool {
	f.dd.mu.Lock()
	defer f.dd.mu.Unlock()
	oldest, any := uint64(0), false
	for k := range f.dd.windows {
		if k.origin == origin && (!any || k.epoch < oldest) {
			oldest, any = k.epoch, true
		}
	}
	n := 0
	for k := range f.dd.windows {
		if k.origin == origin {
			n++
		}
	}
	if any && n >= maxEpochWindows && epochOf(seq) < oldest {
		return true
	}
	w := f.window(origin, seq)
	if w.seen(seq) {
		return true
	}
	w.add(seq)
	return false
}

func (f *Federation) flushLoop(ctx context.Context) {
	t := time.NewTicker(f.cfg.FlushInterval)
	defer t.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.urgent:
		case <-prune.C:
			f.pruneSeen(ctx)
			continue
		}
		f.flush()
	}
}

func (f *Federation) pruneSeen(ctx context.Context) {
	type floor struct {
		origin   string
		from, to uint64
	}
	f.dd.mu.Lock()
	keep := map[string][]uint64{}
	var floors []floor
	for k, w := range f.dd.windows {
		keep[k.origin] = append(keep[k.origin], k.epoch)
		if fl := w.floor(); fl > k.epoch<<SeqBits {
			floors = append(floors, floor{k.origin, k.epoch << SeqBits, fl})
		}
	}
	f.dd.mu.Unlock()
	for _, fl := range floors {
		if _, err := f.db.ExecContext(ctx, `DELETE FROM seen WHERE origin = ? AND seq >= ? AND seq < ?`, fl.origin, int64(fl.from), int64(fl.to)); err != nil {
			f.log.Warn("pruning seen events", "err", err)
		}
	}
	for o, es := range keep {
		// Epochs whose window was forgotten.
		if _, err := f.db.ExecContext(ctx, `DELETE FROM seen WHERE origin = ? AND seq < ?`, o, int64(slices.Min(es)<<SeqBits)); err != nil {
			f.log.Warn("pruning seen events", "err", err)
		}
	}
}

// outRow is one event queued for one peer.
type outRow struct {
	l       *link
	lane    int
	seq     uint64
	uid     string
	compact bool
	body    []byte
}

// flush commits one batch: the events the tap saw, routed to every link
// that may carry them, the received marks, the duplicate windows and the
// acknowledgements. After the commit it acknowledges what was received
// and wakes the senders.
func (f *Federation) flush() {
	f.mu.Lock()
	b := f.pend
	f.pend = batch{}
	f.flushGen++
	gen := f.flushGen
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.flushDone = gen
		close(f.flushed)
		f.flushed = make(chan struct{})
		f.mu.Unlock()
	}()
	f.flashMu.Lock()
	rows := f.flashRows
	f.flashRows = nil
	f.flashMu.Unlock()
	if f.cfg.BeforeAck != nil {
		f.guardAcks(&b)
	}
	if len(rows) == 0 && len(b.msgs) == 0 && len(b.recv) == 0 && len(b.acks) == 0 && len(b.drops) == 0 && len(b.seen) == 0 && b.input == 0 {
		return
	}
	now := time.Now()
	rows = f.routeBatch(rows, b.msgs)
	compactKeys := f.compactBatch(rows)
	delta := map[*link]*[numLanes]int64{}
	err := f.tx(func(tx *ftx) error { return f.writeBatch(tx, b, rows, compactKeys, now, delta) })
	if err != nil {
		// Nothing of the batch is committed: nothing is acknowledged, so
		// peers resend what they sent; local events of the batch are lost
		// to federation, which is logged.
		f.log.Error("committing federation batch", "err", err, "events", len(b.msgs))
		if f.cfg.Input {
			f.retry(b, err)
		}
		return
	}
	for l, dd := range delta {
		for lane, v := range dd {
			l.depth[lane].Add(v)
		}
	}
	acked := map[*link]bool{}
	for _, r := range b.recv {
		if r.l.commitRecv(r.lane, r.seq) {
			acked[r.l] = true
		}
	}
	for l := range acked {
		l.wakeAck()
	}
	for _, l := range f.links {
		l.wake()
	}
}

// routeBatch signs the batch's local events and routes every event to the
// links that may carry it, after rows (the flash rows already routed).
func (f *Federation) routeBatch(rows []outRow, msgs []pending) []outRow {
	f.signLocal(msgs) // outside flashMu: hashing a large batch must not hold up flash traffic
	for _, p := range msgs {
		if p.flash {
			// Tapped before Start: routed here, in the same order as
			// routeFlash would have.
			f.flashMu.Lock()
			n := len(rows)
			rows = f.route(rows, p)
			for _, r := range rows[n:] {
				r.l.pushHot(queued{seq: r.seq, body: r.body})
			}
			f.flashMu.Unlock()
			continue
		}
		rows = f.route(rows, p)
	}
	return rows
}

// compactKey is a uid queued for one link.
type compactKey struct {
	l   *link
	uid string
}

// compactBatch keeps, while a link is down, only the newest queued
// position report of a uid: older ones in this batch are skipped (their
// body set to nil), and the returned newest sequence numbers let the
// transaction delete older ones already queued.
func (f *Federation) compactBatch(rows []outRow) map[compactKey]uint64 {
	var compactKeys map[compactKey]uint64
	for i := len(rows) - 1; i >= 0; i-- {
		r := &rows[i]
		if !r.compact || r.l.isUp() {
			continue
		}
		if compactKeys == nil {
			compactKeys = map[compactKey]uint64{}
		}
		k := compactKey{r.l, r.uid}
		if _, newer := compactKeys[k]; newer {
			r.body = nil // superseded within the batch
			f.stats.compacted.Add(1)
			continue
		}
		compactKeys[k] = r.seq
	}
	return compactKeys
}

// enforceBound keeps a peer's queue within MaxQueue: first the oldest
// position reports go, then the oldest routine events, then the oldest
// flash events. Every drop is counted and logged.
func (f *Federation) enforceBound(tx *ftx, l *link, d *[numLanes]int64) error {
	depth := l.depth[0].Load() + l.depth[1].Load() + d[0] + d[1]
	excess := depth - int64(f.cfg.MaxQueue)
	if excess <= 0 {
		return nil
	}
	steps := []struct {
		lane  int
		where string
	}{{LaneRoutine, "AND compact = 1"}, {LaneRoutine, ""}, {LaneFlash, ""}}
	for _, s := range steps {
		if excess <= 0 {
			break
		}
		res, err := tx.Exec(`DELETE FROM outq WHERE peer = ? AND lane = ? AND seq IN (SELECT seq FROM outq WHERE peer = ? AND lane = ? `+s.where+` ORDER BY seq LIMIT ?)`,
			l.name, s.lane, l.name, s.lane, excess)
		if err != nil {
			return fmt.Errorf("bounding queue of %s: %w", l.name, err)
		}
		n, _ := res.RowsAffected()
		d[s.lane] -= n
		excess -= n
		f.stats.overflow.Add(uint64(n))
		if n > 0 {
			f.log.Error("federation queue full: oldest events dropped", "peer", l.name, "dropped", n, "max", f.cfg.MaxQueue)
			l.overflowed(n)
		}
	}
	return nil
}

func (f *Federation) tx(fn func(*ftx) error) error {
	tx, err := f.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// route decides which links may carry a message and appends one queued
// row per link. The flusher routes routine events; flash events are
// routed under flashMu. The egress policy is applied here when the peer's nation
// is known, and again when the event is sent. A local event goes with
// the record signLocal made for it, a relayed one with the origin's
// signed record as it arrived; an event with neither is not sent, since
// nothing would prove its origin.
func (f *Federation) route(rows []outRow, p pending) []outRow {
	m := p.m
	var origin string
	var oseq uint64
	var path []string
	rec := p.rec
	if fed := p.fed; fed == nil {
		if rec == nil {
			return rows
		}
		origin, oseq, path = f.cfg.NodeID, p.oseq, []string{f.cfg.NodeID}
	} else {
		// The provenance (and its signed record) lives only in the
		// pending batch, not with the live object in the picture.
		if slices.Contains(fed.Path, f.cfg.NodeID) {
			return rows
		}
		origin, oseq, rec = fed.OriginNode, fed.Seq, fed.Signed
		path = append(slices.Clone(fed.Path), f.cfg.NodeID)
	}
	if len(path) > maxPath {
		f.stats.loops.Add(1)
		return rows
	}
	var body []byte
	lane := LaneRoutine
	if p.flash {
		lane = LaneFlash
	}
	compact := compactable(m.Event, p.flash)
	for _, l := range f.links {
		if slices.Contains(path, l.name) {
			continue
		}
		if !l.mayQueue(m.Label) {
			continue
		}
		if rec == nil {
			f.stats.unprovable.Add(1)
			return rows
		}
		if body == nil {
			body = append(appendRoute(nil, origin, oseq, path), rec...)
		}
		rows = append(rows, outRow{l: l, lane: lane, seq: l.allocSeq(lane), uid: m.UID, compact: compact, body: body})
	}
	return rows
}

// signLocal gives every event of ps that this node originates and some
// link may carry its origin sequence number and signs them as one batch.
func (f *Federation) signLocal(ps []pending) {
	var evs []*Event
	var idx []int
	for i := range ps {
		p := &ps[i]
		if p.fed != nil || p.rec != nil || !f.anyLinkMay(p.m) {
			continue
		}
		if p.oseq == 0 {
			p.oseq = f.originSeq.Add(1)
		}
		evs = append(evs, &Event{OriginNode: f.cfg.NodeID, OriginSeq: p.oseq, Label: p.m.Label, Payload: p.m.XML()})
		idx = append(idx, i)
	}
	if len(evs) == 0 {
		return
	}
	if err := f.signer.Sign(evs); err != nil {
		f.log.Error("signing federation events: not sent", "err", err, "events", len(evs))
		return
	}
	for j, e := range evs {
		var rec []byte
		rec = appendLabel(rec, e.Label)
		rec = appendAuth(rec, &e.Auth)
		ps[idx[j]].rec = append(rec, e.Payload...)
	}
}

// anyLinkMay reports whether some link may carry a local message.
func (f *Federation) anyLinkMay(m *hub.Message) bool {
	for _, l := range f.links {
		if l.mayQueue(m.Label) {
			return true
		}
	}
	return false
}

// loadCerts restores the origin certificates this node verified before,
// which it needs to forward queued relayed events with their proof. Each
// is verified again; one that no longer verifies is left out.
func (f *Federation) loadCerts(ctx context.Context) error {
	rows, err := f.db.QueryContext(ctx, `SELECT der FROM certs`)
	if err != nil {
		return fmt.Errorf("reading origin certificates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var der []byte
		if err := rows.Scan(&der); err != nil {
			return err
		}
		if _, _, err := f.verifier.addCert(der); err != nil {
			f.log.Warn("stored origin certificate no longer verifies", "err", err)
		}
	}
	return rows.Err()
}

// storeCert persists a newly verified origin certificate.
func (f *Federation) storeCert(der []byte) {
	fp := sha256.Sum256(der)
	if _, err := f.db.Exec(`INSERT OR IGNORE INTO certs (fp, der) VALUES (?, ?)`, fp[:], der); err != nil {
		f.log.Warn("storing origin certificate", "err", err)
	}
}

// waitFlushed blocks until the flush after the call has committed (tests
// and benchmarks).
func (f *Federation) waitFlushed(ctx context.Context) error {
	// Wait for a flush that takes the pending batch after this call: one
	// already running when it was made may have taken its batch before
	// the caller's events were pending.
	f.mu.Lock()
	target := f.flushGen + 1
	f.mu.Unlock()
	for {
		f.mu.Lock()
		done, ch := f.flushDone, f.flushed
		f.mu.Unlock()
		if done >= target {
			return nil
		}
		f.kick()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
