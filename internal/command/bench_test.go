package command

import (
	"context"
	"testing"
)

// BenchmarkOrderAuthority measures one authority decision on the test
// ORBAT (a derived chain: the CFC ground component's TACON from USFJ's
// OPCON from INDOPACOM's COCOM, with the standing chain and the
// displacement checks).
func BenchmarkOrderAuthority(b *testing.B) {
	h := newHarness(b, nil)
	w := h.s.world()
	b.ReportAllocs()
	for b.Loop() {
		if d := w.OrderAuthority(Movement, "cfc-gcc", "12mlr", t0); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkIssue measures issuing one order: authority check, audit, a
// durable SQLite commit (synchronous=FULL) and GeoChat delivery to two
// devices.
func BenchmarkIssue(b *testing.B) {
	h := newHarness(b, nil)
	req := IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Text: "Hold", DeadlineIn: "1h"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.s.Issue(ctx, usa, req); err != nil {
			b.Fatal(err)
		}
	}
}
