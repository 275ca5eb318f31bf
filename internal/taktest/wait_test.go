package taktest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatalTB records Fatalf and stops the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn as a test body on its own goroutine and returns the
// message of its Fatalf, if any.
func run(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestWaitFor(t *testing.T) {
	t.Run("returns once the check passes", func(t *testing.T) {
		var n atomic.Int32
		msg := run(t, func(tb testing.TB) {
			WaitFor(tb, 5*time.Second, func() error {
				if n.Add(1) < 3 {
					return errors.New("not yet")
				}
				return nil
			})
		})
		if msg != "" || n.Load() != 3 {
			t.Fatalf("failed %q after %d checks, want success after 3", msg, n.Load())
		}
	})
	t.Run("fails with the last error", func(t *testing.T) {
		msg := run(t, func(tb testing.TB) {
			WaitFor(tb, 30*time.Millisecond, func() error { return errors.New("queue not empty") })
		})
		if !strings.Contains(msg, "queue not empty") {
			t.Fatalf("failure %q does not carry the last error", msg)
		}
	})
	t.Run("WaitUntil names the condition", func(t *testing.T) {
		msg := run(t, func(tb testing.TB) {
			WaitUntil(tb, "the link", 30*time.Millisecond, func() bool { return false })
		})
		if !strings.Contains(msg, "waiting for the link") {
			t.Fatalf("failure %q does not name the condition", msg)
		}
	})
}

func TestMetric(t *testing.T) {
	status := http.StatusOK
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, "# HELP x\nkizuna_x{reason=\"dtd\"} 7\nkizuna_x{reason=\"dtd2\"} 9\nkizuna_y 2.5\n")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	tests := []struct {
		sample string
		want   float64
	}{
		{`kizuna_x{reason="dtd"}`, 7},
		{`kizuna_y`, 2.5},
		{`kizuna_absent`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			if got := Metric(t, addr, tt.sample); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	status = http.StatusForbidden
	if msg := run(t, func(tb testing.TB) { Metric(tb, addr, "kizuna_y") }); !strings.Contains(msg, "403") {
		t.Fatalf("a partner's 403 gave %q, want a failure", msg)
	}
}
