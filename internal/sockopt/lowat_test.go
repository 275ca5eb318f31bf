//go:build linux

package sockopt

import (
	"net"
	"testing"
)

func TestNotSentLowat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, n := range []int{16 << 10, 64 << 10} {
		if err := SetNotSentLowat(c, n); err != nil {
			t.Fatalf("set %d: %v", n, err)
		}
		if got, err := NotSentLowat(c); err != nil || got != n {
			t.Errorf("after setting %d: got %d, %v", n, got, err)
		}
	}
	// Not TCP: left alone.
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := SetNotSentLowat(a, 1); err != nil {
		t.Errorf("pipe: %v", err)
	}
}
