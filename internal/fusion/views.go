package fusion

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"kizuna/internal/label"
)

// viewSpec is one set of sources that some audience may see.
type viewSpec struct {
	sources   []string // sorted
	audiences []string // e.g. "KOR:SECRET", for logs and the API
}

// buildViews derives the views from the sources' labels. An audience is a
// nation (the node's, or one a source is released to) at a clearance; it
// may see source s when label.Releasable allows it. Each distinct,
// non-empty set of visible sources is a view. Views are ordered by size,
// then by their source names, so that their order and tags are stable for
// a given configuration; the first view is the most widely released.
func buildViews(nation string, sources map[string]label.Label) []viewSpec {
	nations := map[string]bool{nation: true}
	for _, l := range sources {
		for _, n := range l.ReleasableTo {
			nations[n] = true
		}
	}
	byKey := map[string]*viewSpec{}
	for _, n := range slices.Sorted(maps.Keys(nations)) {
		for c := label.Unclassified; c <= label.TopSecret; c++ {
			p := label.Principal{Nation: n, Clearance: c}
			var vis []string
			for name, l := range sources {
				if label.Releasable(p, l) {
					vis = append(vis, name)
				}
			}
			if len(vis) == 0 {
				continue
			}
			slices.Sort(vis)
			k := strings.Join(vis, "\x00")
			vs := byKey[k]
			if vs == nil {
				vs = &viewSpec{sources: vis}
				byKey[k] = vs
			}
			vs.audiences = append(vs.audiences, p.String())
		}
	}
	out := make([]viewSpec, 0, len(byKey))
	for _, vs := range byKey {
		out = append(out, *vs)
	}
	slices.SortFunc(out, func(a, b viewSpec) int {
		if len(a.sources) != len(b.sources) {
			return len(a.sources) - len(b.sources)
		}
		return slices.Compare(a.sources, b.sources)
	})
	return out
}

func viewTag(i int) string { return fmt.Sprintf("v%d", i) }
