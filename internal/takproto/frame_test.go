package takproto

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"

	"kizuna/internal/cot"
	"kizuna/internal/taktest/testfiles"
)

// drain calls Next until it asks for more input, collecting payloads
// (copied) and errors.
func drain(t *testing.T, s *Splitter) (payloads []string, errs []error) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		p, err := s.Next()
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBadVarint) {
				return
			}
			continue
		}
		if p == nil {
			return
		}
		payloads = append(payloads, string(p))
	}
	t.Fatal("Next does not stop")
	return
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		payload []byte
		want    []byte
	}{
		{nil, []byte{0xbf, 0x00}},
		{[]byte("abc"), []byte{0xbf, 0x03, 'a', 'b', 'c'}},
		{bytes.Repeat([]byte{'x'}, 300), append([]byte{0xbf, 0xac, 0x02}, bytes.Repeat([]byte{'x'}, 300)...)},
	}
	for _, tc := range tests {
		if got := AppendFrame([]byte{1}, tc.payload); !bytes.Equal(got, append([]byte{1}, tc.want...)) {
			t.Errorf("AppendFrame(%d bytes) = %x, want 01%x", len(tc.payload), got, tc.want)
		}
	}
}

func TestSplitterSeveralFramesInOneRead(t *testing.T) {
	var stream []byte
	want := []string{"first", "", "third frame", string(bytes.Repeat([]byte{0xbf}, 200))}
	for _, p := range want {
		stream = AppendFrame(stream, []byte(p))
	}
	s := NewSplitter(0)
	s.Feed(stream)
	got, errs := drain(t, s)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("payloads (-want +got):\n%s", d)
	}
	if s.Buffered() != 0 {
		t.Errorf("Buffered = %d", s.Buffered())
	}
}

func TestSplitterZeroLengthFrameIsNotNil(t *testing.T) {
	s := NewSplitter(0)
	s.Feed([]byte{0xbf, 0x00})
	p, err := s.Next()
	if err != nil || p == nil || len(p) != 0 {
		t.Fatalf("Next = %q (nil %v), %v; want an empty payload", p, p == nil, err)
	}
}

func TestSplitterEveryByteBoundary(t *testing.T) {
	var stream []byte
	var want []string
	for i, n := range []int{0, 1, 127, 128, 1000, 20000} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		stream = AppendFrame(stream, p)
		stream = append(stream, 0x00) // as goatak sends
		want = append(want, string(p))
	}
	for cut := 0; cut <= len(stream); cut += 1 + cut/64 {
		s := NewSplitter(0)
		s.Feed(stream[:cut])
		got, errs := drain(t, s)
		s.Feed(stream[cut:])
		more, errs2 := drain(t, s)
		got = append(got, more...)
		if len(errs)+len(errs2) != 0 {
			t.Fatalf("cut %d: errors %v %v", cut, errs, errs2)
		}
		if !cmp.Equal(want, got) {
			t.Fatalf("cut %d: got %d payloads, want %d", cut, len(got), len(want))
		}
	}
	// Byte by byte, through Buffer/Commit.
	s := NewSplitter(0)
	var got []string
	for _, c := range stream {
		buf := s.Buffer(1)
		buf[0] = c
		s.Commit(1)
		p, errs := drain(t, s)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		got = append(got, p...)
	}
	if !cmp.Equal(want, got) {
		t.Fatalf("byte by byte: got %d payloads, want %d", len(got), len(want))
	}
}

func TestSplitterResync(t *testing.T) {
	var stream []byte
	stream = AppendFrame(stream, []byte("one"))
	stream = append(stream, 0, 0, 0)      // padding: skipped silently
	stream = append(stream, "garbage"...) // reported
	stream = AppendFrame(stream, []byte("two"))
	stream = append(stream, 0x01) // reported
	stream = AppendFrame(stream, []byte("three"))
	s := NewSplitter(0)
	s.Feed(stream)
	got, errs := drain(t, s)
	if d := cmp.Diff([]string{"one", "two", "three"}, got); d != "" {
		t.Errorf("payloads (-want +got):\n%s", d)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want two stray-byte reports", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrStray) || !errors.Is(err, cot.ErrMalformed) || cot.Reason(err) != "malformed" {
			t.Errorf("error %v is not a stray-bytes report", err)
		}
	}
	// Garbage at the end of the buffer is reported once, then more input
	// is awaited.
	s.Feed([]byte("zzz"))
	if p, err := s.Next(); p != nil || !errors.Is(err, ErrStray) {
		t.Errorf("Next = %q, %v", p, err)
	}
	if p, err := s.Next(); p != nil || err != nil {
		t.Errorf("Next = %q, %v; want more input", p, err)
	}
}

func TestSplitterFatal(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		input []byte
		want  error
	}{
		{"length over default limit", 0, protowire.AppendVarint([]byte{0xbf}, cot.MaxEventSize+1), cot.ErrTooLarge},
		{"length over configured limit", 100, append(protowire.AppendVarint([]byte{0xbf}, 101), make([]byte, 101)...), cot.ErrTooLarge},
		{"huge length", 0, protowire.AppendVarint([]byte{0xbf}, 1<<63), cot.ErrTooLarge},
		{"varint over 10 bytes", 0, append([]byte{0xbf}, bytes.Repeat([]byte{0x80}, 11)...), ErrBadVarint},
		{"varint overflowing 64 bits", 0, append(append([]byte{0xbf}, bytes.Repeat([]byte{0xff}, 9)...), 0x7f), ErrBadVarint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSplitter(tc.max)
			s.Feed(AppendFrame(nil, []byte("ok")))
			s.Feed(tc.input)
			if p, err := s.Next(); string(p) != "ok" || err != nil {
				t.Fatalf("first frame: %q, %v", p, err)
			}
			_, err := s.Next()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next error %v, want %v", err, tc.want)
			}
			// Fatal errors stick.
			s.Feed(AppendFrame(nil, []byte("later")))
			if p, err2 := s.Next(); p != nil || !errors.Is(err2, tc.want) {
				t.Errorf("after a fatal error Next = %q, %v", p, err2)
			}
		})
	}
	t.Run("pending length below limit waits", func(t *testing.T) {
		s := NewSplitter(100)
		s.Feed(protowire.AppendVarint([]byte{0xbf}, 100))
		if p, err := s.Next(); p != nil || err != nil {
			t.Errorf("Next = %q, %v; want more input", p, err)
		}
		s.Feed(make([]byte, 100))
		if p, err := s.Next(); len(p) != 100 || err != nil {
			t.Errorf("Next = %d bytes, %v", len(p), err)
		}
	})
}

func TestSplitterRest(t *testing.T) {
	s := NewSplitter(0)
	s.Feed(AppendFrame(nil, []byte("a")))
	s.Feed([]byte{0xbf, 0x05, 'x'})
	if p, _ := s.Next(); string(p) != "a" {
		t.Fatalf("Next = %q", p)
	}
	if p, err := s.Next(); p != nil || err != nil {
		t.Fatalf("Next = %q, %v", p, err)
	}
	if r := s.Rest(); !bytes.Equal(r, []byte{0xbf, 0x05, 'x'}) {
		t.Errorf("Rest = %x", r)
	}
	if s.Buffered() != 0 {
		t.Errorf("Buffered after Rest = %d", s.Buffered())
	}
}

func TestMesh(t *testing.T) {
	payload := []byte("takmessage")
	pkt := AppendMesh(nil, 1, payload)
	if !bytes.Equal(pkt, append([]byte{0xbf, 0x01, 0xbf}, payload...)) {
		t.Fatalf("AppendMesh = %x", pkt)
	}
	v, p, err := DecodeMesh(pkt)
	if err != nil || v != 1 || !bytes.Equal(p, payload) {
		t.Fatalf("DecodeMesh = %d, %q, %v", v, p, err)
	}
	v, p, err = DecodeMesh(AppendMesh(nil, 300, nil))
	if err != nil || v != 300 || len(p) != 0 {
		t.Fatalf("DecodeMesh(version 300, empty) = %d, %q, %v", v, p, err)
	}
	bad := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrProto},
		{"xml", []byte(`<event/>`), ErrProto},
		{"no second magic", []byte{0xbf, 0x01, 0x0a, 0x00}, ErrProto},
		{"truncated header", []byte{0xbf, 0x81, 0x81}, ErrProto},
		{"varint over 10 bytes", append(append([]byte{0xbf}, bytes.Repeat([]byte{0x80}, 11)...), 0xbf), ErrBadVarint},
		{"too large", append([]byte{0xbf, 0x01, 0xbf}, make([]byte, cot.MaxEventSize)...), cot.ErrTooLarge},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeMesh(tc.pkt); !errors.Is(err, tc.want) {
				t.Errorf("DecodeMesh error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMeshEventRoundTrip(t *testing.T) {
	e := mustDecode(t, testfiles.ByName(t, "../cot/testdata/events/*.xml")["sa"])
	payload, err := MarshalPayload(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	v, p, err := DecodeMesh(AppendMesh(nil, Version, payload))
	if err != nil || v != Version {
		t.Fatalf("DecodeMesh: %d %v", v, err)
	}
	got, err := ToEvent(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := equivalent(t, e, got); d != "" {
		t.Error(d)
	}
}

func ExampleSplitter() {
	var stream []byte
	stream = AppendFrame(stream, []byte("one"))
	stream = append(stream, 0x00) // a trailing zero byte, as some clients send
	stream = AppendFrame(stream, []byte("two"))
	s := NewSplitter(0)
	s.Feed(stream[:4]) // the first read ends mid-stream
	for {
		p, err := s.Next()
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		if p == nil {
			if len(stream) > 4 {
				s.Feed(stream[4:])
				stream = stream[:4]
				continue
			}
			break
		}
		fmt.Printf("%s\n", p)
	}
	// Output:
	// one
	// two
}
