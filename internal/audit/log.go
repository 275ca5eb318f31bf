package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"kizuna/internal/seclog"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// File names inside DIR/audit/.
const (
	SubDir          = "audit"
	LogFile         = "audit.log"
	CheckpointFile  = "checkpoints.log"
	KeysFile        = "checkpoint-keys.pem"
	lockFile        = "lock"
	maxFieldBytes   = 4096 // longer actor/action/object/reason values are cut
	maxLineBytes    = 64 << 10
	defaultEvery    = 1000
	defaultInterval = time.Minute
)

// GenesisPrev is the Prev of the first record: 64 zeros.
var GenesisPrev = strings.Repeat("0", 64)

// Sentinel errors callers branch on.
var (
	// ErrTampered means the chain or a checkpoint does not verify.
	ErrTampered = errors.New("audit log tampered")
	// ErrTorn means the last line of the log is incomplete: a crash that was
	// not yet recovered by Open, or a truncation.
	ErrTorn = errors.New("audit log has a torn last line")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("audit log closed")
	// ErrFailed is returned by Append after a write or fsync failed: the log
	// can no longer promise durability and refuses further records.
	ErrFailed = errors.New("audit log failed")
	// ErrLocked means another process holds the log open.
	ErrLocked = errors.New("audit log in use by another process")
)

// Config configures a Log.
type Config struct {
	// Signer signs checkpoints (normally the node's TLS key). It may be nil:
	// checkpoints are then written unsigned and only detect truncation.
	Signer crypto.Signer
	// CheckpointEvery writes a checkpoint after this many records
	// (default 1000; negative disables the count trigger).
	CheckpointEvery int
	// CheckpointInterval writes a checkpoint when records were added and this
	// much time passed since the last one (default 1 minute; negative
	// disables the timer).
	CheckpointInterval time.Duration
	// Actor is the actor of records the log writes about itself, such as a
	// crash recovery (default "system").
	Actor string
	// Log receives operational messages. Nil discards them.
	Log *slog.Logger
}

// Log is an append-only, hash-chained, fsynced audit log. It is safe for
// concurrent use. Concurrent appenders share fsyncs (group commit).
type Log struct {
	cfg   Config
	dir   string
	f     *os.File
	cp    *os.File
	lock  *os.File
	log   *slog.Logger
	keyID string

	mu      sync.Mutex
	head    Record
	pending *batch // records encoded but not yet written
	err     error  // sticky failure
	closed  bool
	kick    chan struct{}

	durable  Record    // last record known durable (flusher only)
	sinceCP  int       // records since last checkpoint (flusher only)
	lastCP   time.Time // flusher only
	cpSeq    uint64    // seq of last checkpoint (flusher only)
	done     chan struct{}
	stopOnce sync.Once
	stop     chan struct{}
}

type batch struct {
	buf  []byte
	n    int
	head Record
	done chan struct{}
	err  error
}

// Open opens (or creates) the audit log under dir/audit. A torn last line
// left by a crash is truncated and the recovery recorded as an audit record.
func Open(dir string, cfg Config) (*Log, error) {
	cfg.defaults()
	lg := cfg.Log
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	ad := filepath.Join(dir, SubDir)
	if err := os.MkdirAll(ad, 0o700); err != nil {
		return nil, fmt.Errorf("audit: creating %s: %w", ad, err)
	}
	lk, err := os.OpenFile(filepath.Join(ad, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening lock: %w", err)
	}
	if err := lockFileExclusive(lk); err != nil {
		lk.Close()
		return nil, fmt.Errorf("audit: %s: %w", ad, ErrLocked)
	}
	l := &Log{cfg: cfg, dir: ad, lock: lk, log: lg, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	head, torn, lastCP, err := l.openFiles()
	if err != nil {
		l.closeFiles()
		return nil, err
	}
	l.head = head
	l.durable = head
	l.lastCP = time.Now()
	l.cpSeq = lastCP.Seq
	tamper := checkpointMismatch(head, lastCP)
	if tamper != "" {
		l.cpSeq = 0 // that checkpoint no longer describes this chain
	}
	go l.flusher()
	if tamper != "" {
		lg.Error("audit: log does not match its last checkpoint; continuing, run 'kizuna audit verify'", "detail", tamper)
		if _, err := l.Append(context.Background(), Record{
			Actor: cfg.Actor, Action: "audit.tamper", Object: LogFile, Decision: "info", Reason: tamper,
		}); err != nil {
			l.Close()
			return nil, err
		}
	}
	if torn > 0 {
		lg.Warn("audit: recovered torn tail after crash", "bytes", torn, "head_seq", head.Seq)
		_, err := l.Append(context.Background(), Record{
			Actor: cfg.Actor, Action: "audit.recover", Object: LogFile, Decision: "info",
			Reason: fmt.Sprintf("truncated %d bytes of an incomplete, unacknowledged last line after seq %d", torn, head.Seq),
		})
		if err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// defaults fills in the zero fields of cfg.
func (cfg *Config) defaults() {
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = defaultEvery
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = defaultInterval
	}
	if cfg.Actor == "" {
		cfg.Actor = "system"
	}
}

// openFiles opens the log and checkpoint files, truncates a torn last
// line of each, and records the signer's key. It returns the last record,
// how many bytes of the log were torn, and the last checkpoint.
func (l *Log) openFiles() (head Record, torn int64, lastCP Checkpoint, err error) {
	ad := l.dir
	l.f, err = os.OpenFile(filepath.Join(ad, LogFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return head, 0, lastCP, fmt.Errorf("audit: opening log: %w", err)
	}
	l.cp, err = os.OpenFile(filepath.Join(ad, CheckpointFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return head, 0, lastCP, fmt.Errorf("audit: opening checkpoints: %w", err)
	}
	if err := syncDir(ad); err != nil {
		return head, 0, lastCP, err
	}
	head, torn, err = recoverTail(l.f)
	if err != nil {
		return head, 0, lastCP, err
	}
	if _, err := l.f.Seek(0, io.SeekEnd); err != nil {
		return head, 0, lastCP, fmt.Errorf("audit: %w", err)
	}
	lastCP, cpTorn, err := recoverCheckpointTail(l.cp)
	if err != nil {
		return head, 0, lastCP, err
	}
	if cpTorn > 0 {
		l.log.Warn("audit: truncated torn checkpoint line", "bytes", cpTorn)
	}
	if _, err := l.cp.Seek(0, io.SeekEnd); err != nil {
		return head, 0, lastCP, fmt.Errorf("audit: %w", err)
	}
	if l.cfg.Signer != nil {
		id, err := recordKey(ad, l.cfg.Signer.Public())
		if err != nil {
			return head, 0, lastCP, err
		}
		l.keyID = id
	}
	return head, torn, lastCP, nil
}

// checkpointMismatch says how the log's last record contradicts its last
// checkpoint (records removed or changed), or "" if it does not.
func checkpointMismatch(head Record, lastCP Checkpoint) string {
	switch {
	case lastCP.Seq > head.Seq:
		return fmt.Sprintf("log ends at seq %d but was checkpointed at seq %d: records were removed", head.Seq, lastCP.Seq)
	case lastCP.Seq == head.Seq && lastCP.Seq > 0 && lastCP.Hash != head.Hash:
		return fmt.Sprintf("last record seq %d differs from its checkpoint", head.Seq)
	}
	return ""
}

// recoverTail finds the last complete record and truncates anything after
// the last newline (a torn, never acknowledged write). It returns the head.
func recoverTail(f *os.File) (Record, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return Record{}, 0, fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	lastNL, prevNL, err := lastNewlines(f, size)
	if err != nil {
		return Record{}, 0, err
	}
	var torn int64
	if lastNL+1 < size {
		torn = size - (lastNL + 1)
		if err := f.Truncate(lastNL + 1); err != nil {
			return Record{}, 0, fmt.Errorf("audit: truncating torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Record{}, 0, fmt.Errorf("audit: %w", err)
		}
	}
	if lastNL < 0 {
		return Record{Hash: GenesisPrev}, torn, nil
	}
	line := make([]byte, lastNL-(prevNL+1))
	if _, err := f.ReadAt(line, prevNL+1); err != nil {
		return Record{}, 0, fmt.Errorf("audit: reading last record: %w", err)
	}
	r, err := parseRecord(line)
	if err != nil {
		return Record{}, 0, fmt.Errorf("audit: last record: %w: %v", ErrTampered, err)
	}
	if h := r.ComputeHash(); h != r.Hash {
		return Record{}, 0, fmt.Errorf("audit: last record seq %d: %w: hash mismatch", r.Seq, ErrTampered)
	}
	return r, torn, nil
}

// recoverCheckpointTail truncates a torn last checkpoint line and returns
// the last complete checkpoint (zero if none or unreadable).
func recoverCheckpointTail(f *os.File) (Checkpoint, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return Checkpoint{}, 0, fmt.Errorf("audit: %w", err)
	}
	lastNL, prevNL, err := lastNewlines(f, st.Size())
	if err != nil {
		return Checkpoint{}, 0, err
	}
	var torn int64
	if lastNL+1 < st.Size() {
		torn = st.Size() - (lastNL + 1)
		if err := f.Truncate(lastNL + 1); err != nil {
			return Checkpoint{}, 0, fmt.Errorf("audit: truncating torn checkpoint: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Checkpoint{}, 0, fmt.Errorf("audit: %w", err)
		}
	}
	var c Checkpoint
	if lastNL > 0 {
		line := make([]byte, lastNL-(prevNL+1))
		if _, err := f.ReadAt(line, prevNL+1); err == nil {
			if json.Unmarshal(line, &c) != nil {
				c = Checkpoint{}
			}
		}
	}
	return c, torn, nil
}

// lastNewlines returns the offsets of the last and the one-before-last
// newline in f (-1 when absent).
func lastNewlines(f *os.File, size int64) (last, prev int64, err error) {
	last, prev = -1, -1
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, 0, fmt.Errorf("audit: reading tail: %w", err)
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			if last < 0 {
				last = start + int64(i)
			} else {
				prev = start + int64(i)
				return last, prev, nil
			}
		}
		end = start
	}
	return last, prev, nil
}

// Append adds r to the log. It assigns Seq, Time, Prev and Hash and returns
// only once the record is durable on disk (fsynced). Concurrent calls share
// fsyncs. The context is checked before the record enters the chain; once it
// has, Append waits for durability regardless.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Record{}, ErrClosed
	}
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return Record{}, err
	}
	r.Actor = clean(r.Actor)
	r.Action = clean(r.Action)
	r.Object = clean(r.Object)
	r.Decision = clean(r.Decision)
	r.Reason = clean(r.Reason)
	r.Seq = l.head.Seq + 1
	r.Time = time.Now().UTC()
	if !r.Time.After(l.head.Time) && !l.head.Time.IsZero() {
		// Keep times non-decreasing even if the wall clock steps back.
		r.Time = l.head.Time
	}
	r.Prev = l.head.Hash
	r.Hash = r.ComputeHash()
	line, err := json.Marshal(r)
	if err != nil {
		l.mu.Unlock()
		return Record{}, fmt.Errorf("audit: encoding record: %w", err)
	}
	if l.pending == nil {
		l.pending = &batch{done: make(chan struct{})}
	}
	b := l.pending
	b.buf = append(b.buf, line...)
	b.buf = append(b.buf, '\n')
	b.n++
	b.head = r
	l.head = r
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-b.done
	if b.err != nil {
		return Record{}, b.err
	}
	return r, nil
}

// Head returns the last record appended (it may still be in flight to disk).
// For an empty log it has Seq 0 and Hash GenesisPrev.
func (l *Log) Head() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Close flushes pending records, writes a final checkpoint, stops the
// flusher and closes the files.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.mu.Lock()
	err := l.err
	l.mu.Unlock()
	if err == nil && l.cpSeq != l.head.Seq && l.head.Seq > 0 {
		err = l.writeCheckpoint(l.head)
	}
	if cerr := l.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (l *Log) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{l.f, l.cp} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	if l.lock != nil {
		unlockFile(l.lock)
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

// flusher writes and fsyncs batches: while one fsync is in flight, new
// records gather in the next batch.
func (l *Log) flusher() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.cfg.CheckpointInterval > 0 {
		t := time.NewTicker(l.cfg.CheckpointInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-l.kick:
			l.flush()
		case <-tick:
			l.flush()
			if l.sinceCP > 0 && time.Since(l.lastCP) >= l.cfg.CheckpointInterval {
				l.checkpointAt(l.durable)
			}
		case <-l.stop:
			// Appends that raced Close already hold a batch: flush them.
			l.flush()
			return
		}
	}
}

func (l *Log) flush() {
	l.mu.Lock()
	b := l.pending
	l.pending = nil
	failed := l.err
	l.mu.Unlock()
	if b == nil {
		return
	}
	if failed != nil {
		b.err = failed
		close(b.done)
		return
	}
	_, err := l.f.Write(b.buf)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		err = fmt.Errorf("%w: writing records up to seq %d: %v", ErrFailed, b.head.Seq, err)
		l.log.Error("audit: write failed; refusing further records", seclog.Tag(seclog.Audit), "err", err)
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		b.err = err
		close(b.done)
		return
	}
	close(b.done)
	l.durable = b.head
	l.sinceCP += b.n
	if l.cfg.CheckpointEvery > 0 && l.sinceCP >= l.cfg.CheckpointEvery {
		l.checkpointAt(b.head)
	}
}

func (l *Log) checkpointAt(head Record) {
	if head.Seq == 0 || head.Seq == l.cpSeq {
		return
	}
	if err := l.writeCheckpoint(head); err != nil {
		l.log.Error("audit: writing checkpoint failed", "seq", head.Seq, "err", err)
	}
}

// Checkpoint is one line of checkpoints.log: the head of the chain at some
// moment, optionally signed with the node's key.
type Checkpoint struct {
	Seq   uint64    `json:"seq"`
	Hash  string    `json:"hash"`
	Time  time.Time `json:"time"`
	KeyID string    `json:"key,omitempty"` // hex SHA-256 of the signer's PKIX public key
	Sig   []byte    `json:"sig,omitempty"` // ASN.1 signature over SignedDigest
}

// SignedDigest is the SHA-256 digest a checkpoint signature covers.
func (c Checkpoint) SignedDigest() []byte {
	h := sha256.New()
	fmt.Fprintf(h, "kizuna-audit-checkpoint-v1\n%d\n%s\n%s\n%s\n", c.Seq, c.Hash, c.Time.UTC().Format(time.RFC3339Nano), c.KeyID)
	return h.Sum(nil)
}

func (l *Log) writeCheckpoint(head Record) error {
	c := Checkpoint{Seq: head.Seq, Hash: head.Hash, Time: time.Now().UTC(), KeyID: l.keyID}
	if l.cfg.Signer != nil {
		sig, err := l.cfg.Signer.Sign(rand.Reader, c.SignedDigest(), crypto.SHA256)
		if err != nil {
			return fmt.Errorf("audit: signing checkpoint: %w", err)
		}
		c.Sig = sig
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := l.cp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: writing checkpoint: %w", err)
	}
	if err := l.cp.Sync(); err != nil {
		return fmt.Errorf("audit: syncing checkpoint: %w", err)
	}
	l.cpSeq = head.Seq
	l.sinceCP = 0
	l.lastCP = time.Now()
	return nil
}

// ComputeHash returns the hex SHA-256 of the canonical encoding of r
// without its Hash field: a version tag, then each field as its decimal
// byte length, a colon, the value and a newline, in the order seq, time
// (RFC 3339 with nanoseconds, UTC), actor, action, object, decision,
// reason, prev.
func (r Record) ComputeHash() string {
	h := sha256.New()
	h.Write([]byte("kizuna-audit-v1\n"))
	for _, v := range []string{
		strconv.FormatUint(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano),
		r.Actor, r.Action, r.Object, r.Decision, r.Reason, r.Prev,
	} {
		h.Write(strconv.AppendInt(nil, int64(len(v)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(v))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clean makes a field valid UTF-8 (JSON would otherwise rewrite it and
// break the hash) and bounds its length.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > maxFieldBytes {
		cut := maxFieldBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func parseRecord(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return Record{}, errors.New("trailing data after record")
	}
	return r, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("audit: syncing %s: %w", dir, err)
	}
	return nil
}

// readLines calls fn for each line of r (without its newline); the last
// line is reported with complete=false when it lacks a newline.
func readLines(r io.Reader, fn func(n int, line []byte, complete bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Overlong line: gather it whole.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
				if len(full) > 16*maxLineBytes {
					return fmt.Errorf("line %d longer than %d bytes", n, 16*maxLineBytes)
				}
			}
			line = full
		}
		if err == io.EOF {
			if len(line) > 0 {
				return fn(n, line, false)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if ferr := fn(n, line[:len(line)-1], true); ferr != nil {
			return ferr
		}
	}
}
