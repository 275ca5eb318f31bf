package scenario

import (
	"math"
	"time"

	"kizuna/internal/fusion"
)

// Estimate is one fused track at an evaluation time.
type Estimate struct {
	UID      string
	Lat, Lon float64
}

// Estimates turns fusion tracks into estimates at time at, moving each
// track from its last update along its velocity.
func Estimates(tracks []fusion.Track, at time.Time) []Estimate {
	out := make([]Estimate, 0, len(tracks))
	for _, t := range tracks {
		lat, lon := move(t.Lat, t.Lon, t.Course, t.Speed*at.Sub(t.Time).Seconds())
		out = append(out, Estimate{UID: t.UID, Lat: lat, Lon: lon})
	}
	return out
}

// Step is the score of one evaluation time.
type Step struct {
	GOSPA        float64 // metres (p = 2, α = 2)
	Localisation float64 // squared-error part of GOSPA², m²
	Missed       int     // truths without a track within c
	False        int     // tracks without a truth within c
	Assigned     int
	SumSq        float64 // squared position errors of the assigned pairs, m²
}

// Score computes GOSPA (p = 2, α = 2, cut-off c metres) between the truth
// and the estimates, with the optimal assignment, and returns for each
// truth the uid of the track assigned to it within c ("" if none).
func Score(truth []Truth, est []Estimate, c float64) (Step, []string) {
	n, m := len(truth), len(est)
	uids := make([]string, n)
	var st Step
	if n == 0 || m == 0 {
		st.Missed, st.False = n, m
		st.GOSPA = math.Sqrt(c * c / 2 * float64(n+m))
		return st, uids
	}
	cost := make([][]float64, n)
	d := make([][]float64, n)
	for i, x := range truth {
		cost[i] = make([]float64, m)
		d[i] = make([]float64, m)
		for j, y := range est {
			dist := distance(x.Lat, x.Lon, y.Lat, y.Lon)
			d[i][j] = dist
			cost[i][j] = math.Min(dist, c) * math.Min(dist, c)
		}
	}
	a := fusion.Assign(cost)
	used := make([]bool, m)
	for i, j := range a {
		if j >= 0 && d[i][j] < c {
			st.Assigned++
			st.SumSq += d[i][j] * d[i][j]
			used[j] = true
			uids[i] = est[j].UID
		}
	}
	st.Missed = n - st.Assigned
	st.False = m - st.Assigned
	st.Localisation = st.SumSq
	st.GOSPA = math.Sqrt(st.SumSq + c*c/2*float64(st.Missed+st.False))
	return st, uids
}

// Evaluator accumulates scores over a run.
type Evaluator struct {
	C     float64 // GOSPA cut-off, metres
	steps int

	sumGOSPA float64
	maxGOSPA float64
	truthN   int // truth-time pairs
	assigned int
	trackN   int // track-time pairs
	falseN   int
	sumSq    float64
	seq      map[string][]string // truth name → uid assigned at each step ("" none)
	// MinRun is the number of consecutive steps a truth must keep a new
	// track before the change counts as an ID swap (default 10).
	MinRun int
}

// NewEvaluator returns an evaluator with cut-off c metres.
func NewEvaluator(c float64) *Evaluator {
	return &Evaluator{C: c, seq: map[string][]string{}, MinRun: 10}
}

// Add scores one time step. Only truths in the filter (when non-nil) count.
func (e *Evaluator) Add(truth []Truth, est []Estimate) Step {
	st, uids := Score(truth, est, e.C)
	e.steps++
	e.sumGOSPA += st.GOSPA
	e.maxGOSPA = math.Max(e.maxGOSPA, st.GOSPA)
	e.truthN += len(truth)
	e.assigned += st.Assigned
	e.trackN += len(est)
	e.falseN += st.False
	e.sumSq += st.SumSq
	// Identity: a truth keeps the track it had while that track stays
	// within C/2 of it, whatever the optimal assignment of this step says;
	// otherwise it takes the track the assignment gives it.
	byUID := make(map[string]Estimate, len(est))
	for _, y := range est {
		byUID[y.UID] = y
	}
	for i, x := range truth {
		u := uids[i]
		if q := e.seq[x.Name]; len(q) > 0 {
			if prev := q[len(q)-1]; prev != "" {
				if y, ok := byUID[prev]; ok && distance(x.Lat, x.Lon, y.Lat, y.Lon) < e.C/2 {
					u = prev
				}
			}
		}
		e.seq[x.Name] = append(e.seq[x.Name], u)
	}
	return st
}

// Result is the summary of a run.
type Result struct {
	Steps        int
	MeanGOSPA    float64 // metres
	MaxGOSPA     float64
	Completeness float64 // assigned truth-time pairs / truth-time pairs
	Spurious     float64 // unassigned track-time pairs / track-time pairs
	IDSwaps      int     // changes of the track assigned to a truth
	SwapsByName  map[string]int
	RMSE         float64 // metres, over assigned pairs
}

// Result summarises the run.
func (e *Evaluator) Result() Result {
	r := Result{Steps: e.steps, MaxGOSPA: e.maxGOSPA, SwapsByName: map[string]int{}}
	for name, seq := range e.seq {
		if n := swaps(seq, e.MinRun); n > 0 {
			r.SwapsByName[name] = n
			r.IDSwaps += n
		}
	}
	if e.steps > 0 {
		r.MeanGOSPA = e.sumGOSPA / float64(e.steps)
	}
	if e.truthN > 0 {
		r.Completeness = float64(e.assigned) / float64(e.truthN)
	}
	if e.trackN > 0 {
		r.Spurious = float64(e.falseN) / float64(e.trackN)
	}
	if e.assigned > 0 {
		r.RMSE = math.Sqrt(e.sumSq / float64(e.assigned))
	}
	return r
}

// swaps counts the changes of track in a truth's sequence of assigned
// uids, keeping only runs of at least minRun steps (gaps without a track
// do not end a run).
func swaps(seq []string, minRun int) int {
	var stable []string
	run, cur := 0, ""
	for _, u := range seq {
		if u == "" {
			continue
		}
		if u != cur {
			cur, run = u, 0
		}
		run++
		if run == minRun && (len(stable) == 0 || stable[len(stable)-1] != u) {
			stable = append(stable, u)
		}
	}
	return max(0, len(stable)-1)
}
