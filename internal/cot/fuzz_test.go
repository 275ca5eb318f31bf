package cot

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/taktest/testfiles"
)

// FuzzCoTXML decodes arbitrary documents. Decode must never panic; an
// event it accepts must encode to XML that decodes to the same event, and
// the stream splitter must return that XML whole.
func FuzzCoTXML(f *testing.F) {
	for _, doc := range testfiles.ByName(f, "testdata/events/*.xml") {
		f.Add(doc)
	}
	for _, s := range []string{
		ev("", pt),
		ev(`uid="a&amp;b&#x263A;" type="t" access="S" releasableTo="JPN,KOR" caveat="x"`, pt+`<detail><__origin nation="USA" node="n"/><marti><dest uid="u2"/><dest callsign="c"/><dest mission="m"/></marti></detail>`),
		ev("", pt+`<detail><remarks><![CDATA[</event>]]></remarks><!-- c --><?pi x?></detail>`),
		`<!DOCTYPE event [<!ENTITY a "b">]>` + ev("", pt),
		`<event uid='q' type='t' time='2026-11-27T17:00:00.123456+09:00' stale='2026-11-27T08:05:00'><point lat='-90' lon='180'/><detail/></event>`,
		ev("uid=\"a\x01b\" type=\"t\"", pt),
		ev("uid=\"a\xffb\" type=\"t\"", pt),
		ev(`uid="a" type="t"`, pt+`<detail><__origin node="x"/></detail>`),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// The splitter finds the same documents whether the bytes arrive at
		// once or in pieces.
		whole := splitPieces(t, doc, len(doc))
		if pieces := splitPieces(t, doc, 1+len(doc)/3); !cmp.Equal(whole, pieces) {
			t.Fatalf("documents depend on read boundaries:\n%q\n%q", whole, pieces)
		}
		e, err := Decode(doc)
		if err != nil {
			if e != nil {
				t.Fatal("event returned with an error")
			}
			if Reason(err) == "" {
				t.Fatal("error without a reason")
			}
			return
		}
		out := e.XML()
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, out)
		}
		if d := cmp.Diff(normalized(e), normalized(again), cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("event changed by encode and decode (-first +second):\n%s\n%s", d, out)
		}
		s := NewSplitter(0)
		s.Feed(out)
		if d, err := s.Next(); err != nil || string(d) != string(out) {
			t.Fatalf("splitter on encoder output: %q, %v", d, err)
		}
	})
}

// normalized applies what the encoder defines: times in milliseconds, an
// absent start written as the event time, an absent version as 2.0.
func normalized(e *Event) *Event {
	c := *e
	c.Time = c.Time.Truncate(time.Millisecond)
	c.Stale = c.Stale.Truncate(time.Millisecond)
	if c.Start.IsZero() {
		c.Start = c.Time
	}
	c.Start = c.Start.Truncate(time.Millisecond)
	if c.Version == "" {
		c.Version = "2.0"
	}
	return &c
}

// splitPieces feeds doc to a splitter n bytes at a time and returns the
// documents found.
func splitPieces(t *testing.T, doc []byte, n int) []string {
	s := NewSplitter(0)
	var docs []string
	for len(doc) > 0 {
		k := min(n, len(doc))
		s.Feed(doc[:k])
		doc = doc[k:]
		limit := s.Buffered() + 2 // every call consumes a byte or stops
		for i := 0; ; i++ {
			d, err := s.Next()
			if errors.Is(err, ErrTooLarge) {
				return docs
			}
			if d == nil && err == nil {
				break
			}
			if d != nil {
				docs = append(docs, string(d))
			}
			if i > limit {
				t.Fatal("splitter does not make progress")
			}
		}
	}
	return docs
}
