package readbuf

import (
	"bytes"
	"testing"
)

func TestBuffer(t *testing.T) {
	var r Buffer
	r.Append([]byte("abcdef"))
	r.Consume(2)
	if got := r.Buffered(); got != 4 {
		t.Fatalf("Buffered = %d, want 4", got)
	}
	held := r.Bytes()[r.Done():]
	if !bytes.Equal(held, []byte("cdef")) {
		t.Fatalf("held %q", held)
	}
	if d := r.Compact(); d != 2 {
		t.Fatalf("Compact dropped %d, want 2", d)
	}
	if d := r.Compact(); d != 0 {
		t.Fatalf("second Compact dropped %d", d)
	}
	tail := r.Tail(100)
	if len(tail) < 100 {
		t.Fatalf("Tail gave %d bytes", len(tail))
	}
	r.Commit(copy(tail, "gh"))
	if !bytes.Equal(r.Bytes(), []byte("cdefgh")) {
		t.Fatalf("after Commit %q", r.Bytes())
	}
	r.SetDone(3)
	if got := r.Take(); !bytes.Equal(got, []byte("fgh")) || r.Buffered() != 0 || r.Done() != 0 {
		t.Fatalf("Take %q, then Buffered %d Done %d", got, r.Buffered(), r.Done())
	}
}
