package store

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ringUIDs(r *ring) []string {
	var out []string
	for i := range r.n {
		out = append(out, r.at(i).UID)
	}
	return out
}

// TestRingMatchesModel drives the ring with random pushes, resets and
// prepends and compares it with a plain slice that keeps the newest max rows.
func TestRingMatchesModel(t *testing.T) {
	for _, max := range []int{1, 3, 64, 100, 1000} {
		t.Run("max="+strconv.Itoa(max), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(max)))
			var r ring
			var model []string
			dropped, modelDropped := 0, 0
			seq := 0
			next := func() string { seq++; return strconv.Itoa(seq) }
			for step := range 5000 {
				switch k := rng.IntN(100); {
				case k < 90:
					uid := next()
					if r.push(Object{UID: uid}, max) {
						dropped++
					}
					model = append(model, uid)
					if len(model) > max {
						model = model[1:]
						modelDropped++
					}
				case k < 95:
					r.reset()
					model = nil
				default:
					var older ring
					var om []string
					for range rng.IntN(2 * max) {
						uid := next()
						older.push(Object{UID: uid}, 1<<30)
						om = append(om, uid)
					}
					dropped += r.prepend(&older, max)
					model = append(om, model...)
					if over := len(model) - max; over > 0 {
						model = model[over:]
						modelDropped += over
					}
					if len(r.buf) > max {
						t.Fatalf("step %d: prepend left a buffer of %d > max %d", step, len(r.buf), max)
					}
				}
				if r.n > max || len(r.buf) > max {
					t.Fatalf("step %d: ring holds %d in a buffer of %d, max %d", step, r.n, len(r.buf), max)
				}
				if got := ringUIDs(&r); !slices.Equal(got, model) {
					t.Fatalf("step %d: ring differs from model (-want +got):\n%s", step, cmp.Diff(model, got))
				}
				if dropped != modelDropped {
					t.Fatalf("step %d: dropped %d, want %d", step, dropped, modelDropped)
				}
			}
		})
	}
}

func TestRingResetReleasesReferences(t *testing.T) {
	var r ring
	for i := range 10 {
		r.push(Object{UID: strconv.Itoa(i), XML: make([]byte, 10)}, 100)
	}
	r.reset()
	for i, o := range r.buf {
		if o.UID != "" || o.XML != nil {
			t.Fatalf("slot %d still references %q after reset", i, o.UID)
		}
	}
}
