package takproto

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/cot"
)

func mustDecode(t testing.TB, doc []byte) *cot.Event {
	t.Helper()
	e, err := cot.Decode(doc)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return e
}

// typedNames are the detail children with a typed protobuf field. Their
// position among the other children is not kept by protobuf.
var typedNames = []string{"contact", "__group", "precisionlocation", "status", "takv", "track"}

// canonicalDetail renders the inner XML of a detail for comparison with
// encoding/xml (independent of the code under test): attributes sorted,
// references resolved, numbers of track and status compared as numbers,
// whitespace-only text dropped, and the children that
// have typed protobuf fields moved to the front in a fixed order, since
// protobuf keeps only the order of the other children.
func canonicalDetail(t testing.TB, inner []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(append(append([]byte("<detail>"), inner...), "</detail>"...)))
	var typed, rest []string
	depth := 0
	var cur strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("canonical detail: %v\n%s", err, inner)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				continue
			}
			attrs := make([]string, 0, len(tk.Attr))
			for _, a := range tk.Attr {
				v := a.Value
				if depth == 2 && (tk.Name.Local == "track" || tk.Name.Local == "status") {
					// Numbers are compared as numbers: "0.0" and "0" agree.
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						v = strconv.FormatFloat(f, 'g', -1, 64)
					}
				}
				attrs = append(attrs, a.Name.Local+"="+v)
			}
			sort.Strings(attrs)
			cur.WriteString("<" + tk.Name.Local + " " + strings.Join(attrs, " ") + ">")
		case xml.EndElement:
			depth--
			if depth == 0 {
				continue
			}
			cur.WriteString("</" + tk.Name.Local + ">")
			if depth == 1 {
				s := cur.String()
				cur.Reset()
				if slices.Contains(typedNames, tk.Name.Local) {
					typed = append(typed, s)
				} else {
					rest = append(rest, s)
				}
			}
		case xml.CharData:
			if len(bytes.TrimSpace(tk)) == 0 {
				continue
			}
			if depth == 1 {
				rest = append(rest, "text:"+string(tk))
			} else {
				cur.WriteString("text:" + string(tk))
			}
		case xml.Comment:
			if depth == 1 {
				rest = append(rest, "comment:"+string(tk))
			} else {
				cur.WriteString("<!--" + string(tk) + "-->")
			}
		}
	}
	sort.Strings(typed)
	return strings.Join(typed, "\n") + "\n--\n" + strings.Join(rest, "\n")
}

// equivalent reports the differences between two events that must mean the
// same: every field equal (times to the millisecond, which is what
// protobuf carries), the detail equal as canonicalDetail renders it.
func equivalent(t testing.TB, want, got *cot.Event) string {
	t.Helper()
	w, g := *want, *got
	for _, e := range []*cot.Event{&w, &g} {
		e.Time = e.Time.Truncate(1e6)
		e.Start = e.Start.Truncate(1e6)
		e.Stale = e.Stale.Truncate(1e6)
		if e.Start.IsZero() {
			e.Start = e.Time
		}
		if e.Version == "" {
			e.Version = "2.0"
		}
	}
	diff := cmp.Diff(w, g, cmpopts.EquateNaNs(), cmpopts.IgnoreFields(cot.Event{}, "Detail"), cmpopts.EquateEmpty())
	if cw, cg := canonicalDetail(t, w.Detail), canonicalDetail(t, g.Detail); cw != cg {
		diff += "\ndetail:\n" + cmp.Diff(cw, cg)
	}
	return diff
}

// cmpEvent compares events field by field, NaN equal to NaN.
var cmpEvent = []cmp.Option{cmpopts.EquateNaNs(), cmpopts.EquateEmpty()}
