package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openLog(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t testing.TB, l *Log, n int) []Record {
	t.Helper()
	var out []Record
	for i := 0; i < n; i++ {
		r, err := l.Append(context.Background(), Record{Actor: "VIPER1@JPN:SECRET", Action: fmt.Sprintf("act%d", i+1), Object: "uid-" + strconv.Itoa(i), Decision: "deny", Reason: "label above clearance"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestAppendAssignsChain(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	rs := appendN(t, l, 3)
	for i, r := range rs {
		if r.Seq != uint64(i+1) {
			t.Errorf("record %d: seq %d", i, r.Seq)
		}
		if r.Hash != r.ComputeHash() {
			t.Errorf("record %d: hash does not match", i)
		}
		if r.Time.IsZero() {
			t.Errorf("record %d: no time", i)
		}
	}
	if rs[0].Prev != GenesisPrev || rs[1].Prev != rs[0].Hash || rs[2].Prev != rs[1].Hash {
		t.Errorf("chain links wrong: %+v", rs)
	}
	if h := l.Head(); h.Seq != 3 || h.Hash != rs[2].Hash {
		t.Errorf("head = %+v", h)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), Record{Action: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || rep.HeadSeq != 3 || rep.Checkpoints != 1 {
		t.Errorf("report %+v", rep)
	}
	// Reopen continues the chain.
	l2 := openLog(t, dir, Config{})
	r, err := l2.Append(context.Background(), Record{Action: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 4 || r.Prev != rs[2].Hash {
		t.Errorf("after reopen: %+v", r)
	}
	l2.Close()
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	openLog(t, dir, Config{})
	if _, err := Open(dir, Config{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestFieldsAreCleaned(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	r, err := l.Append(context.Background(), Record{Actor: "bad\xffutf8", Reason: strings.Repeat("é", 5000)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Actor != "bad\uFFFDutf8" || len(r.Reason) > maxFieldBytes {
		t.Errorf("not cleaned: %q, %d bytes", r.Actor, len(r.Reason))
	}
	l.Close()
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{Signer: newKey(t), CheckpointEvery: 50})
	const workers, each = 8, 40
	var wg sync.WaitGroup
	seen := make(chan uint64, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := l.Append(context.Background(), Record{Actor: "w", Action: "a"})
				if err != nil {
					t.Error(err)
					return
				}
				seen <- r.Seq
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := map[uint64]bool{}
	for s := range seen {
		if got[s] {
			t.Fatalf("seq %d twice", s)
		}
		got[s] = true
	}
	if len(got) != workers*each {
		t.Fatalf("%d distinct seqs", len(got))
	}
	l.Close()
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != workers*each || rep.Signed < 2 || rep.Signed != rep.Checkpoints {
		t.Errorf("report %+v", rep)
	}
}

func TestCheckpointInterval(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{Signer: newKey(t), CheckpointEvery: -1, CheckpointInterval: 10 * time.Millisecond})
	appendN(t, l, 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, SubDir, CheckpointFile))
		if bytes.Count(b, []byte("\n")) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint written by the timer")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tamperFixture writes 10 signed records with a checkpoint every 4 and a
// final one on Close, and returns the data dir and the key.
func tamperFixture(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	k := newKey(t)
	l := openLog(t, dir, Config{Signer: k, CheckpointEvery: 4})
	appendN(t, l, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyWithKey(dir, &k.PublicKey); err != nil {
		t.Fatalf("fresh log does not verify: %v", err)
	}
	return dir, k
}

func editLines(t *testing.T, path string, fn func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines = fn(lines)
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	logPath := func(d string) string { return filepath.Join(d, SubDir, LogFile) }
	cpPath := func(d string) string { return filepath.Join(d, SubDir, CheckpointFile) }
	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		kind     error
		file     string
		line     int
		seq      uint64
		contains string
	}{
		{"edit a field", func(t *testing.T, d string) {
			editLines(t, logPath(d), func(l []string) []string {
				l[4] = strings.Replace(l[4], `"decision":"deny"`, `"decision":"allow"`, 1)
				return l
			})
		}, ErrTampered, LogFile, 5, 5, "edited"},
		{"edit a field and its hash", func(t *testing.T, d string) {
			editLines(t, logPath(d), func(l []string) []string {
				var r Record
				if err := json.Unmarshal([]byte(l[6]), &r); err != nil {
					t.Fatal(err)
				}
				r.Decision = "allow"
				r.Hash = r.ComputeHash()
				b, _ := json.Marshal(r)
				l[6] = string(b)
				return l
			})
		}, ErrTampered, LogFile, 8, 8, "prev hash"},
		{"delete a record", func(t *testing.T, d string) {
			editLines(t, logPath(d), func(l []string) []string { return append(l[:3:3], l[4:]...) })
		}, ErrTampered, LogFile, 4, 5, "expected"},
		{"reorder two records", func(t *testing.T, d string) {
			editLines(t, logPath(d), func(l []string) []string { l[5], l[6] = l[6], l[5]; return l })
		}, ErrTampered, LogFile, 6, 7, "expected"},
		{"truncate whole records", func(t *testing.T, d string) {
			editLines(t, logPath(d), func(l []string) []string { return l[:7] })
		}, ErrTampered, CheckpointFile, 2, 8, "log ends at seq 7"},
		{"truncate mid-line", func(t *testing.T, d string) {
			b, _ := os.ReadFile(logPath(d))
			os.WriteFile(logPath(d), b[:len(b)-20], 0o600)
		}, ErrTorn, LogFile, 10, 10, "incomplete"},
		{"alter a checkpoint signature", func(t *testing.T, d string) {
			editLines(t, cpPath(d), func(l []string) []string {
				var c Checkpoint
				json.Unmarshal([]byte(l[1]), &c)
				c.Sig[len(c.Sig)/2] ^= 0x55
				b, _ := json.Marshal(c)
				l[1] = string(b)
				return l
			})
		}, ErrTampered, CheckpointFile, 2, 8, "signature"},
		{"strip a checkpoint signature", func(t *testing.T, d string) {
			editLines(t, cpPath(d), func(l []string) []string {
				var c Checkpoint
				json.Unmarshal([]byte(l[0]), &c)
				c.Sig = nil
				b, _ := json.Marshal(c)
				l[0] = string(b)
				return l
			})
		}, ErrTampered, CheckpointFile, 1, 4, "not signed"},
		{"replace the recorded key", func(t *testing.T, d string) {
			// A forger re-signs checkpoints with their own key and swaps the
			// keys file: VerifyWithKey with the node's real key catches it.
			other := newKey(t)
			editLines(t, cpPath(d), func(l []string) []string {
				id, _ := KeyID(&other.PublicKey)
				for i := range l {
					var c Checkpoint
					json.Unmarshal([]byte(l[i]), &c)
					c.KeyID = id
					c.Sig, _ = other.Sign(rand.Reader, c.SignedDigest(), nil)
					b, _ := json.Marshal(c)
					l[i] = string(b)
				}
				return l
			})
		}, ErrTampered, CheckpointFile, 1, 4, "not among"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, k := tamperFixture(t)
			tc.tamper(t, dir)
			_, err := VerifyWithKey(dir, &k.PublicKey)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("err %T is not a *TamperError", err)
			}
			if te.File != tc.file || te.Line != tc.line || te.Seq != tc.seq || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("got %s line %d seq %d (%v); want %s line %d seq %d containing %q", te.File, te.Line, te.Seq, err, tc.file, tc.line, tc.seq, tc.contains)
			}
		})
	}
}

func TestVerifyUsesRecordedKeys(t *testing.T) {
	dir, _ := tamperFixture(t)
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Signed != 3 || rep.Checkpoints != 3 || rep.Records != 10 {
		t.Errorf("report %+v", rep)
	}
	editLines(t, filepath.Join(dir, SubDir, CheckpointFile), func(l []string) []string {
		var c Checkpoint
		json.Unmarshal([]byte(l[2]), &c)
		c.Sig[10] ^= 1
		b, _ := json.Marshal(c)
		l[2] = string(b)
		return l
	})
	if _, err := Verify(dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("altered signature not caught with the recorded key: %v", err)
	}
}

func TestTornTailRecovered(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	rs := appendN(t, l, 5)
	l.Close()
	p := filepath.Join(dir, SubDir, LogFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":6,"time":"2026-11-27T08:00:00Z","act`)
	f.Close()
	if _, err := Verify(dir); !errors.Is(err, ErrTorn) {
		t.Fatalf("verify before recovery: %v, want ErrTorn", err)
	}
	l2 := openLog(t, dir, Config{Actor: "node:jpn-1"})
	h := l2.Head()
	if h.Seq != 6 || h.Action != "audit.recover" || h.Prev != rs[4].Hash || h.Actor != "node:jpn-1" {
		t.Errorf("recovery record: %+v", h)
	}
	l2.Close()
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 6 {
		t.Errorf("records %d", rep.Records)
	}
}

func TestOpenRefusesCorruptLastRecord(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	appendN(t, l, 3)
	l.Close()
	editLines(t, filepath.Join(dir, SubDir, LogFile), func(l []string) []string {
		l[2] = strings.Replace(l[2], "deny", "allow", 1)
		return l
	})
	if _, err := Open(dir, Config{}); !errors.Is(err, ErrTampered) {
		t.Fatalf("open: %v, want ErrTampered", err)
	}
}

// The crash test: a child process appends and prints each acknowledged seq;
// the parent kills it with SIGKILL mid-stream, reopens and checks that every
// acknowledged record is there and the chain verifies.
const crashEnv = "KIZUNA_AUDIT_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKeepsAcknowledged")
	}
	l, err := Open(dir, Config{Signer: newKey(t), CheckpointEvery: 25})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r, err := l.Append(context.Background(), Record{Actor: "child", Action: "crash.test", Object: strconv.Itoa(i), Decision: "info", Reason: strings.Repeat("x", i%300)})
				if err != nil {
					fmt.Println("ERR", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(out, "ACK %d\n", r.Seq)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[uint64]bool{}
		sc := bufio.NewScanner(stdout)
		target := 200 + round*137
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ERR") {
				t.Fatalf("child: %s", line)
			}
			s, ok := strings.CutPrefix(line, "ACK ")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			acked[n] = true
			if len(acked) == target {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		// Read what the child had already printed before it died: those
		// records were acknowledged too.
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				n, _ := strconv.ParseUint(s, 10, 64)
				acked[n] = true
			}
		}
		cmd.Wait()
		if len(acked) < target {
			t.Fatalf("round %d: child acknowledged only %d records", round, len(acked))
		}
		l, err := Open(dir, Config{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		l.Close()
		rep, err := Verify(dir)
		if err != nil {
			t.Fatalf("round %d: verify after kill: %v", round, err)
		}
		present := map[uint64]bool{}
		b, _ := os.ReadFile(filepath.Join(dir, SubDir, LogFile))
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatal(err)
			}
			present[r.Seq] = true
		}
		for s := range acked {
			if !present[s] {
				t.Errorf("round %d: acknowledged seq %d lost", round, s)
			}
		}
		t.Logf("round %d: %d acknowledged, %d records in log", round, len(acked), rep.Records)
	}
}

// seedLog builds a deterministic chain of n records and a checkpoint for
// each, as fuzz seeds must be identical in every fuzzing process.
func seedLog(n int) (logData, cpData []byte) {
	prev := GenesisPrev
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		r := Record{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: "VIPER1@JPN:SECRET", Action: "label.reject", Object: "uid-" + strconv.Itoa(i), Decision: "deny", Reason: "above clearance", Prev: prev}
		r.Hash = r.ComputeHash()
		prev = r.Hash
		b, _ := json.Marshal(r)
		logData = append(append(logData, b...), '\n')
		c, _ := json.Marshal(Checkpoint{Seq: r.Seq, Hash: r.Hash, Time: r.Time})
		cpData = append(append(cpData, c...), '\n')
	}
	return logData, cpData
}

func FuzzVerify(f *testing.F) {
	logb, cpb := seedLog(4)
	f.Add(logb, cpb)
	f.Add(logb[:len(logb)/2], cpb)
	f.Add([]byte("{}\n"), []byte("{\"seq\":1}\n"))
	f.Add([]byte{}, []byte(base64.StdEncoding.EncodeToString([]byte("x"))))
	f.Fuzz(func(t *testing.T, logData, cpData []byte) {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, SubDir), 0o700)
		os.WriteFile(filepath.Join(d, SubDir, LogFile), logData, 0o600)
		os.WriteFile(filepath.Join(d, SubDir, CheckpointFile), cpData, 0o600)
		rep, err := Verify(d)
		if err == nil && uint64(bytes.Count(logData, []byte("\n"))) != rep.Records {
			t.Fatalf("verified %d records in %d lines", rep.Records, bytes.Count(logData, []byte("\n")))
		}
		if err == nil && rep.Signed != 0 {
			t.Fatalf("%d signatures verified without any key", rep.Signed)
		}
	})
}

// FuzzOpen feeds Open (crash recovery) whatever may be on disk: it must
// either refuse or leave a log that verifies up to what it found.
func FuzzOpen(f *testing.F) {
	logb, _ := seedLog(3)
	f.Add(logb)
	f.Add(logb[:len(logb)-7])
	f.Add(append(append([]byte(nil), logb...), 0, 0, 0))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, SubDir), 0o700)
		os.WriteFile(filepath.Join(d, SubDir, LogFile), data, 0o600)
		before, verr := Verify(d)
		l, err := Open(d, Config{})
		if err != nil {
			return
		}
		l.Close()
		after, err := Verify(d)
		if verr == nil && err != nil {
			t.Fatalf("a log that verified no longer does after Open: %v", err)
		}
		if verr == nil && after.Records != before.Records {
			t.Fatalf("Open changed an intact log: %d records, then %d", before.Records, after.Records)
		}
	})
}

func BenchmarkAppendParallel(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(dir, Config{Signer: newKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), Record{Actor: "VIPER1@JPN:SECRET", Action: "label.reject", Object: "uid-1", Decision: "deny"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestOpenNoticesRemovedRecords(t *testing.T) {
	dir, k := tamperFixture(t)
	editLines(t, filepath.Join(dir, SubDir, LogFile), func(l []string) []string { return l[:6] })
	l := openLog(t, dir, Config{Signer: k})
	h := l.Head()
	if h.Seq != 7 || h.Action != "audit.tamper" || !strings.Contains(h.Reason, "removed") {
		t.Fatalf("head after reopening a shortened log: %+v", h)
	}
	l.Close()
	// The evidence stays: the checkpoint for seq 8 no longer matches.
	if _, err := Verify(dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("verify: %v", err)
	}
}

// BenchmarkAppendSerial is one appender: every record waits for its own
// fsync, the floor group commit improves on.
func BenchmarkAppendSerial(b *testing.B) {
	l, err := Open(b.TempDir(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		if _, err := l.Append(context.Background(), Record{Actor: "VIPER1@JPN:SECRET", Action: "label.reject", Object: "uid-1", Decision: "deny"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(dir, Config{Signer: newKey(b), CheckpointEvery: 1000})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Append(context.Background(), Record{Actor: "VIPER1@JPN:SECRET", Action: "label.reject", Object: "uid-" + strconv.Itoa(i), Decision: "deny", Reason: "label above clearance"})
			}
		}()
	}
	wg.Wait()
	l.Close()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Verify(dir)
		if err != nil || rep.Records != 10000 {
			b.Fatal(rep, err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	want := appendN(t, l, 5)
	var got []Record
	err := Read(dir, func(r Record) error {
		got = append(got, r)
		if r.Seq == 4 {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d records", len(got))
	}
	for i := range got {
		if got[i].Hash != want[i].Hash || !got[i].Time.Equal(want[i].Time) || got[i].Action != want[i].Action {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
