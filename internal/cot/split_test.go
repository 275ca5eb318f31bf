package cot

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kizuna/internal/taktest/testfiles"
)

// splitAll feeds the chunks one by one and collects the documents (copied)
// and the errors Next reports, stopping at ErrTooLarge.
func splitAll(t *testing.T, s *Splitter, chunks ...[]byte) (docs []string, errs []error) {
	t.Helper()
	for _, c := range chunks {
		s.Feed(c)
		d, e := drain(t, s)
		docs, errs = append(docs, d...), append(errs, e...)
		if len(e) > 0 && errors.Is(e[len(e)-1], ErrTooLarge) {
			break
		}
	}
	return docs, errs
}

// drain calls Next until it asks for more input or fails with ErrTooLarge.
func drain(t *testing.T, s *Splitter) (docs []string, errs []error) {
	t.Helper()
	for i := 0; i < 100000; i++ {
		d, err := s.Next()
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrTooLarge) {
				return docs, errs
			}
			continue
		}
		if d == nil {
			return docs, errs
		}
		docs = append(docs, string(d))
	}
	t.Fatal("Next does not stop")
	return nil, nil
}

func TestSplitterSeveralEventsInOneRead(t *testing.T) {
	a, b, c := ev(`uid="a" type="t"`, pt), ev(`uid="b" type="t"`, pt), ev(`uid="c" type="t"`, pt+`<detail><x/></detail>`)
	s := NewSplitter(0)
	docs, errs := splitAll(t, s, []byte(a+b+"\n"+c))
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if d := cmp.Diff([]string{a, b, c}, docs); d != "" {
		t.Errorf("documents (-want +got):\n%s", d)
	}
}

// stream is a realistic mixed stream: declarations, whitespace, comments,
// CDATA holding an end tag and every realistic event.
func stream(t *testing.T) (data []byte, want []string) {
	t.Helper()
	evs := testfiles.ByName(t, "testdata/events/*.xml")
	for _, name := range []string{"sa", "chat", "marker", "route", "alert", "unknown"} {
		doc := bytes.TrimSpace(evs[name])
		// The splitter drops declarations and comments between events and
		// returns the root element alone.
		root := doc[bytes.Index(doc, []byte("<event")):]
		want = append(want, string(root))
		data = append(data, doc...)
		data = append(data, "\r\n  \t"...)
	}
	tricky := ev(`uid="cdata" type="t"`, pt+`<detail><remarks><![CDATA[</event></detail> <event> ]]></remarks><!-- </event> --></detail>`)
	data = append(data, "<!-- between events -->"...)
	data = append(data, tricky...)
	want = append(want, tricky)
	return data, want
}

func TestSplitterEveryByteBoundary(t *testing.T) {
	data, want := stream(t)
	for cut := 0; cut <= len(data); cut++ {
		s := NewSplitter(0)
		docs, errs := splitAll(t, s, data[:cut], data[cut:])
		if len(errs) != 0 {
			t.Fatalf("cut %d: errors %v", cut, errs)
		}
		if !cmp.Equal(want, docs) {
			t.Fatalf("cut at %d: documents (-want +got):\n%s", cut, cmp.Diff(want, docs))
		}
	}
	// Byte by byte through Buffer/Commit, as a connection reads.
	s := NewSplitter(0)
	var docs []string
	for _, c := range data {
		buf := s.Buffer(1)
		buf[0] = c
		s.Commit(1)
		d, errs := drain(t, s)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		docs = append(docs, d...)
	}
	if d := cmp.Diff(want, docs); d != "" {
		t.Errorf("byte by byte (-want +got):\n%s", d)
	}
	// Every document decodes.
	for _, d := range want {
		if _, err := Decode([]byte(d)); err != nil {
			t.Errorf("%v: %s", err, d)
		}
	}
}

func TestSplitterStrayBytes(t *testing.T) {
	a, b := ev(`uid="a" type="t"`, pt), ev(`uid="b" type="t"`, pt)
	s := NewSplitter(0)
	docs, errs := splitAll(t, s, []byte("garbage"+a+"\x00\x00 more junk "+b+"</stray>"))
	if d := cmp.Diff([]string{a, b}, docs); d != "" {
		t.Errorf("documents (-want +got):\n%s", d)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3 reports", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v is not ErrMalformed", err)
		}
	}
	// The stream goes on after garbage.
	docs, errs = splitAll(t, s, []byte(a))
	if len(docs) != 1 || len(errs) != 0 {
		t.Errorf("after garbage: %q %v", docs, errs)
	}
}

func TestSplitterDTD(t *testing.T) {
	a := ev(`uid="a" type="t"`, pt)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!-- a comment with ' and ] and > -->
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>
]>
<lolz>&lol2;</lolz>`
	tests := []struct {
		name  string
		input string
	}{
		{"doctype without subset", `<!DOCTYPE event>` + ev(`uid="dtd" type="t"`, pt)},
		{"entity used", `<!DOCTYPE event [<!ENTITY x "y">]>` + ev(`uid="dtd" type="t"`, pt+`<detail><r>&x;</r></detail>`)},
		{"entity declared, not used", `<?xml version="1.0"?>` + "\n" + `<!DOCTYPE event [<!ENTITY x "y">]>` + "\n" + ev(`uid="dtd" type="t"`, pt)},
		{"billion laughs", laughs},
		{"external entity", `<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + ev(`uid="dtd" type="t"`, pt+`<detail><r>&xxe;</r></detail>`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []int{0, 7, len(tc.input) / 2} {
				s := NewSplitter(0)
				docs, errs := splitAll(t, s, []byte(tc.input[:split]), []byte(tc.input[split:]+a))
				if len(errs) != 1 || !errors.Is(errs[0], ErrDTD) || Reason(errs[0]) != "dtd" {
					t.Errorf("split %d: errors %v, want one ErrDTD", split, errs)
				}
				if d := cmp.Diff([]string{a}, docs); d != "" {
					t.Errorf("split %d: documents (-want +got):\n%s", split, d)
				}
			}
		})
	}
}

func TestSplitterTooLarge(t *testing.T) {
	t.Run("pending event over the limit", func(t *testing.T) {
		s := NewSplitter(1000)
		big := ev("", pt+`<detail><remarks>`+strings.Repeat("x", 2000))
		docs, errs := splitAll(t, s, []byte(ev(`uid="ok" type="t"`, pt)), []byte(big[:900]), []byte(big[900:]))
		if len(docs) != 1 {
			t.Errorf("documents %q, want the small one", docs)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) || Reason(errs[0]) != "too_large" {
			t.Errorf("errors %v, want ErrTooLarge", errs)
		}
	})
	t.Run("complete event over the limit in one read", func(t *testing.T) {
		s := NewSplitter(1000)
		big := ev("", pt+`<detail><remarks>`+strings.Repeat("x", 2000)+`</remarks></detail>`)
		docs, errs := splitAll(t, s, []byte(big))
		if len(docs) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) {
			t.Errorf("documents %d, errors %v; want ErrTooLarge", len(docs), errs)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		s := NewSplitter(0)
		chunk := bytes.Repeat([]byte("y"), 64<<10)
		var errs []error
		s.Feed([]byte(`<event uid="u" type="t"><detail><remarks>`))
		for i := 0; i < 20 && len(errs) == 0; i++ {
			_, e := splitAll(t, s, chunk)
			errs = append(errs, e...)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) {
			t.Errorf("errors %v after %d bytes, want ErrTooLarge", errs, s.Buffered())
		}
	})
	t.Run("under the limit", func(t *testing.T) {
		s := NewSplitter(0)
		big := ev("", pt+`<detail><remarks>`+strings.Repeat("x", MaxEventSize-1000)+`</remarks></detail>`)
		docs, errs := splitAll(t, s, []byte(big[:len(big)/2]), []byte(big[len(big)/2:]))
		if len(docs) != 1 || len(errs) != 0 {
			t.Errorf("documents %d, errors %v", len(docs), errs)
		}
	})
}

func TestSplitterRest(t *testing.T) {
	a := ev(`uid="a" type="t"`, pt)
	s := NewSplitter(0)
	s.Feed([]byte(a + "\xbf\x05proto"))
	d, err := s.Next()
	if string(d) != a || err != nil {
		t.Fatalf("Next = %q, %v", d, err)
	}
	if r := s.Rest(); string(r) != "\xbf\x05proto" {
		t.Errorf("Rest = %q", r)
	}
	if s.Buffered() != 0 {
		t.Errorf("Buffered after Rest = %d", s.Buffered())
	}
}

func TestSplitterUnterminatedEvent(t *testing.T) {
	a, b := ev(`uid="a" type="t"`, pt), ev(`uid="b" type="t"`, pt)
	truncated := `<?xml version="1.0"?><event uid="cut" type="t"><point lat="1" lon="2"/><detail><contact callsign="X"/>`
	tests := []struct {
		name  string
		input string
	}{
		{"next event starts", truncated + a + b},
		{"next declaration starts", truncated + `<?xml version="1.0" encoding="UTF-8"?>` + a + b},
		{"truncated inside a child", `<event uid="cut" type="t"><detail><remarks>half` + a + b},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.input); cut++ {
				s := NewSplitter(0)
				docs, errs := splitAll(t, s, []byte(tc.input[:cut]), []byte(tc.input[cut:]))
				if d := cmp.Diff([]string{a, b}, docs); d != "" {
					t.Fatalf("cut %d: documents (-want +got):\n%s", cut, d)
				}
				if len(errs) != 1 || !errors.Is(errs[0], ErrMalformed) {
					t.Fatalf("cut %d: errors %v, want one ErrMalformed", cut, errs)
				}
			}
		})
	}
	// A nested element merely named like the start of "event" is content.
	nested := ev(`uid="n" type="t"`, pt+`<detail><events/><eventually x="1"></eventually></detail>`)
	docs, errs := splitAll(t, NewSplitter(0), []byte(nested))
	if len(docs) != 1 || len(errs) != 0 {
		t.Errorf("nested look-alikes: %q %v", docs, errs)
	}
}
