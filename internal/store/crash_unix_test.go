//go:build unix

package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv tells TestCrashChild, run as a child process, where to put its
// store.
const crashDirEnv = "KIZUNA_STORE_CRASH_DIR"

// TestCrash checks the SPEC durability promise against a real SIGKILL: a
// child process Puts objects every 5 ms and reports each one; after about
// two seconds the parent kills it, reopens its store and requires every
// object (and history row) Put more than one second before the kill.
func TestCrash(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("running as the crash child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	type put struct {
		seq int
		at  time.Time
	}
	puts := make(chan put, 1024)
	go func() {
		defer close(puts)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "PUT" {
				continue
			}
			seq, err1 := strconv.Atoi(f[1])
			ns, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			puts <- put{seq, time.Unix(0, ns)}
		}
	}()

	var got []put
	var first time.Time
	deadline := time.After(30 * time.Second)
	for first.IsZero() || time.Since(first) < 2*time.Second {
		select {
		case p, ok := <-puts:
			if !ok {
				t.Fatalf("child exited before the kill after %d puts", len(got))
			}
			if first.IsZero() {
				first = time.Now()
			}
			got = append(got, p)
		case <-deadline:
			t.Fatalf("child reported %d puts in 30 s", len(got))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for p := range puts {
		got = append(got, p)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}

	s := openStore(t, Config{Dir: dir})
	objs := mustObjects(t, s)
	present := make(map[string]bool, len(objs))
	for _, o := range objs {
		present[o.UID] = true
	}
	trackRows := make(map[string]bool)
	for _, o := range mustHistory(t, s, "crash-track", time.Time{}, 0) {
		trackRows[o.Callsign] = true
	}
	owners := mustOwners(t, s)

	must, survivedLate, late := 0, 0, 0
	for _, p := range got {
		uid := fmt.Sprintf("crash-%06d", p.seq)
		if killed.Sub(p.at) <= time.Second {
			late++
			if present[uid] {
				survivedLate++
			}
			continue
		}
		must++
		if !present[uid] {
			t.Errorf("object %s, Put %v before the kill, is missing", uid, killed.Sub(p.at))
		}
		if owners[uid] != "JPN" {
			t.Errorf("owner of %s = %q, want JPN", uid, owners[uid])
		}
		if !trackRows[strconv.Itoa(p.seq)] {
			t.Errorf("history row %d of crash-track, Put %v before the kill, is missing", p.seq, killed.Sub(p.at))
		}
	}
	t.Logf("child reported %d puts; %d were more than 1 s before the kill and all must survive; %d of the last second's %d survived",
		len(got), must, survivedLate, late)
	if must < 50 {
		t.Fatalf("only %d puts more than 1 s before the kill; the test proves nothing", must)
	}
}

// TestCrashChild is the child process of TestCrash. It Puts until killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrash")
	}
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(context.Background())
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	stop := time.After(time.Minute) // the parent kills us long before
	w := bufio.NewWriter(os.Stdout)
	for seq := 0; ; seq++ {
		select {
		case <-tick.C:
		case <-stop:
			t.Fatal("not killed within a minute")
		}
		o := obj(fmt.Sprintf("crash-%06d", seq), "JPN", seq)
		s.Put(o)
		o.UID, o.Callsign = "crash-track", strconv.Itoa(seq)
		s.Put(o)
		fmt.Fprintf(w, "PUT %d %d\n", seq, time.Now().UnixNano())
		w.Flush()
	}
}
