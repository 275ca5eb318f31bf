package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"kizuna/internal/seclog"
)

// The security log stream.
//
// Every security-relevant log line (refused connections and handshakes,
// connection caps, rate limits, label and ownership rejections, hostile
// input, revocations, enrollment, federation refusals, audit failures) is
// also written as one JSON object per line to DATA/security.log, whatever
// the level of the operator's own log. Each line carries the slog fields
// (time, level, msg and the record's attributes), "node_id" and
// "node_nation" (the node writing it: "node" and "nation" in a record
// often name a peer or a client), and "category", one of the categories
// below. The file rotates by size:
// at SecurityLogMaxBytes it becomes security.log.1 (older ones shift up
// to security.log.N, N = SecurityLogKeep) and a new file starts.
//
// A log line is security-relevant when it carries package seclog's tag
// (seclog.Tag(category), or security=true beside a "category"); its
// message text never decides. Dropped events are classified by their
// reason alone: package reject lists the reasons once and says which are
// security-relevant, and the stream layer tags its log lines with
// reject.Reason.LogAttrs.

// Security log file name, rotation size and the number of rotated files
// kept.
const (
	SecurityLogFile     = "security.log"
	SecurityLogMaxBytes = 16 << 20
	SecurityLogKeep     = 4
)

// Categories of security log lines (package seclog owns the list).
const (
	SecTLS        = seclog.TLS
	SecConnection = seclog.Connection
	SecEvent      = seclog.Event
	SecRate       = seclog.Rate
	SecRevocation = seclog.Revocation
	SecEnrollment = seclog.Enrollment
	SecFederation = seclog.Federation
	SecAudit      = seclog.Audit
	SecConfig     = seclog.Config
)

// securityCategory decides whether a record belongs in the security log:
// by its attributes alone (package seclog), never by its message text.
func securityCategory(r slog.Record, bound []slog.Attr) (string, bool) {
	return seclog.Classify(bound, r.Attrs)
}

// securityHandler passes every record to the node's own handler and tees
// the security-relevant ones, at Info and above, to the security stream.
type securityHandler struct {
	inner slog.Handler
	sec   slog.Handler
	bound []slog.Attr // attributes bound with With (top level), for classification
	w     *rotatingFile
}

func newSecurityHandler(inner slog.Handler, w *rotatingFile, attrs ...slog.Attr) *securityHandler {
	sec := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}).WithAttrs(attrs)
	return &securityHandler{inner: inner, sec: sec, w: w}
}

func (h *securityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.inner.Enabled(ctx, l)
}

func (h *securityHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.inner.Enabled(ctx, r.Level) {
		err = h.inner.Handle(ctx, r)
	}
	if r.Level < slog.LevelInfo {
		return err
	}
	cat, ok := securityCategory(r, h.bound)
	if !ok {
		return err
	}
	sr := r.Clone()
	sr.AddAttrs(slog.String("category", cat))
	if serr := h.sec.Handle(ctx, sr); serr != nil && h.w.failed.CompareAndSwap(false, true) {
		// Report the first failure on the node's own log, once.
		fr := slog.NewRecord(r.Time, slog.LevelError, "security log write failed", 0)
		fr.AddAttrs(slog.String("file", h.w.path), slog.String("err", serr.Error()))
		h.inner.Handle(ctx, fr)
	}
	return err
}

func (h *securityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &securityHandler{
		inner: h.inner.WithAttrs(as),
		sec:   h.sec.WithAttrs(as),
		bound: append(h.bound[:len(h.bound):len(h.bound)], as...),
		w:     h.w,
	}
}

func (h *securityHandler) WithGroup(name string) slog.Handler {
	return &securityHandler{inner: h.inner.WithGroup(name), sec: h.sec.WithGroup(name), bound: h.bound, w: h.w}
}

// rotatingFile is an append-only file that rotates by size. It opens the
// file at the first write, so that building a node opens nothing. After
// Close a write opens, appends and closes again: late records (during
// shutdown) are not lost.
type rotatingFile struct {
	path   string
	max    int64
	keep   int
	failed atomic.Bool

	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
}

func newRotatingFile(path string, max int64, keep int) *rotatingFile {
	return &rotatingFile{path: path, max: max, keep: keep}
}

func (w *rotatingFile) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil && w.size > 0 && w.size+int64(len(p)) > w.max {
		if err := w.rotate(); err != nil {
			return 0, err
		}
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if w.closed {
		w.f.Close()
		w.f = nil
	}
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", w.path, err)
	}
	return n, nil
}

func (w *rotatingFile) open() error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(w.path), err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening security log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening security log: %w", err)
	}
	w.f, w.size = f, st.Size()
	if w.size >= w.max {
		return w.rotate()
	}
	return nil
}

// rotate shifts security.log.N-1 → .N … security.log → .1 and reopens.
func (w *rotatingFile) rotate() error {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.path + "." + strconv.Itoa(w.keep))
	for i := w.keep - 1; i >= 1; i-- {
		os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
	}
	if w.keep > 0 {
		if err := os.Rename(w.path, w.path+".1"); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating security log: %w", err)
		}
	} else if err := os.Remove(w.path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotating security log: %w", err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("opening security log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file; later writes append and close at once.
func (w *rotatingFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// setupSecurityLog tees the node's security-relevant log lines to
// DATA/security.log. New calls it before any component takes a logger.
func (n *Node) setupSecurityLog() {
	w := newRotatingFile(filepath.Join(n.cfg.DataDir, SecurityLogFile), SecurityLogMaxBytes, SecurityLogKeep)
	n.log = slog.New(newSecurityHandler(n.log.Handler(), w, slog.String("node_id", n.cfg.NodeID), slog.String("node_nation", n.cfg.Nation)))
	n.securityLog = w
}

// closeSecurityLog closes DATA/security.log; it is the last component to
// stop, so every other component's shutdown lines reach it.
func (n *Node) closeSecurityLog(context.Context) error { return n.securityLog.Close() }
