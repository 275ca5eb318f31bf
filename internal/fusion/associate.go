package fusion

import "math"

// Association: which plot of a batch updates which track (global nearest
// neighbour within a gate), and the births of tentative tracks.

type plotRef struct {
	o   *Observation
	seq uint64
}

type pair struct {
	plot, trk int
	cost      float64
}

type assocScratch struct {
	plots  []plotRef
	cands  []*track
	candIx map[*track]int
	pairs  []pair
	parent []int
}

func (s *assocScratch) find(i int) int {
	for s.parent[i] != i {
		s.parent[i] = s.parent[s.parent[i]]
		i = s.parent[i]
	}
	return i
}

// associate assigns one batch of plots to the view's tracks by global
// nearest neighbour and starts tentative tracks from the rest.
func (e *Engine) associate(v *view, plots []plotRef) {
	inGate := e.gate(v, plots)
	assigned := e.assign(len(plots))
	s := &e.scratch
	for pi, pr := range plots {
		if ti := assigned[pi]; ti > 0 {
			t := s.cands[ti-1]
			if e.measure(t, pr.o) {
				e.plotDomain(t)
				v.index(t)
			}
			continue
		}
		if len(v.tracks) >= e.cfg.MaxTracks || inGate[pi] {
			// A plot near a confirmed track (within suppressGate times the
			// gate) that was not assigned to it is not taken for a new
			// object: a track started from it would compete with the
			// confirmed one for that object's next plots (crossings, noise
			// outliers, split plots).
			continue
		}
		t := e.newTrack(v, Key{Kind: IDNone, ID: pr.seq}, pr.o)
		e.measureFirst(t, pr.o)
		e.plotDomain(t)
		v.index(t)
	}
}

// gate finds every (plot, track) pair of the view within the gate and its
// cost, into the scratch candidates and pairs. It reports which plots lie
// near a confirmed track (within suppressGate times the gate).
func (e *Engine) gate(v *view, plots []plotRef) []bool {
	s := &e.scratch
	if s.candIx == nil {
		s.candIx = map[*track]int{}
	}
	clear(s.candIx)
	s.cands = s.cands[:0]
	s.pairs = s.pairs[:0]
	inGate := make([]bool, len(plots))
	for pi, pr := range plots {
		o := pr.o
		r := o.cov()
		detR := r[0]*r[2] - r[1]*r[1]
		v.near(o.Lat, o.Lon, func(t *track) {
			x, p := t.predicted(o.Time, e.q(t.domain))
			de, dn := t.f.toENU(o.Lat, o.Lon)
			sv, d2, ok := innovation(&p, r, de-x[0], dn-x[1])
			if !ok {
				return
			}
			if t.confirmed && d2 <= suppressGate*e.cfg.Gate {
				inGate[pi] = true
			}
			if d2 > e.cfg.Gate {
				return
			}
			// The cost is the negative log-likelihood of the pairing up to
			// a constant: d² + ln(|S| / |R|). A track that knows its
			// position well (a confirmed one) wins a plot over a vague
			// tentative one at the same distance.
			cost := d2 + math.Log(math.Max(1, (sv[0]*sv[2]-sv[1]*sv[1])/detR))
			ti, seen := s.candIx[t]
			if !seen {
				ti = len(s.cands)
				s.candIx[t] = ti
				s.cands = append(s.cands, t)
			}
			s.pairs = append(s.pairs, pair{plot: pi, trk: ti, cost: cost})
		})
	}
	return inGate
}

// assign assigns the np plots to the candidate tracks: pairs that share
// no plot or track with another are taken as they are, each cluster of
// competing pairs is solved optimally. It returns, per plot, the index+1
// of its track in the scratch candidates, 0 for none.
func (e *Engine) assign(np int) []int {
	s := &e.scratch
	nt := len(s.cands)
	// Union-find over plots (0..np-1) and tracks (np..np+nt-1).
	s.parent = s.parent[:0]
	for i := range np + nt {
		s.parent = append(s.parent, i)
	}
	for _, pp := range s.pairs {
		a, b := s.find(pp.plot), s.find(np+pp.trk)
		if a != b {
			s.parent[a] = b
		}
	}
	assigned := make([]int, np) // track index+1, 0 none
	comps := map[int][]int{}    // root → pair indices
	for i, pp := range s.pairs {
		r := s.find(pp.plot)
		comps[r] = append(comps[r], i)
	}
	for _, idx := range comps {
		if len(idx) == 1 {
			pp := s.pairs[idx[0]]
			assigned[pp.plot] = pp.trk + 1
			continue
		}
		e.solve(idx, assigned)
	}
	return assigned
}

// suppressGate widens the gate inside which a plot cannot start a track.
const suppressGate = 4

// solve assigns the plots of one cluster optimally: rows are the plots,
// columns the tracks followed by one "no track" column per plot. Leaving a
// gated plot unassigned costs more than any pairing, so the solution
// assigns as many gated plots as it can, then minimises the total cost.
func (e *Engine) solve(idx []int, assigned []int) {
	s := &e.scratch
	var rows, cols []int
	rowOf, colOf := map[int]int{}, map[int]int{}
	for _, i := range idx {
		pp := s.pairs[i]
		if _, ok := rowOf[pp.plot]; !ok {
			rowOf[pp.plot] = len(rows)
			rows = append(rows, pp.plot)
		}
		if _, ok := colOf[pp.trk]; !ok {
			colOf[pp.trk] = len(cols)
			cols = append(cols, pp.trk)
		}
	}
	n, m := len(rows), len(cols)+len(rows)
	const big = 1e9
	const unassignedCost = 1e6
	cost := make([][]float64, n)
	for r := range cost {
		cost[r] = make([]float64, m)
		for c := range cost[r] {
			cost[r][c] = big
		}
		cost[r][len(cols)+r] = unassignedCost
	}
	for _, i := range idx {
		pp := s.pairs[i]
		cost[rowOf[pp.plot]][colOf[pp.trk]] = pp.cost
	}
	for r, c := range assign(cost, n, m) {
		if c < len(cols) && cost[r][c] < big {
			assigned[rows[r]] = cols[c] + 1
		}
	}
}

// plotDomain classifies a track without identity: air when a plot carried
// an altitude or it moves faster than 30 m/s (58 kt), otherwise surface.
func (e *Engine) plotDomain(t *track) {
	if t.key.Kind != IDNone {
		return
	}
	_, spd := courseSpeed(t.x[2], t.x[3])
	switch {
	case t.plotAir || (t.hits >= 3 && spd > 30):
		t.domain = DomainAir
	case t.hits >= 3 && t.domain == DomainUnknown:
		t.domain = DomainSea
	}
}
