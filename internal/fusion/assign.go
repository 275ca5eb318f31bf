package fusion

import "math"

// assign solves the rectangular assignment problem for an n×m cost matrix
// (n ≤ m) by the shortest augmenting path form of the Hungarian method,
// O(n²m). It returns, for each row, its column. Costs must be finite;
// callers encode "not allowed" as a large finite cost.
func assign(cost [][]float64, n, m int) []int {
	const inf = math.MaxFloat64
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1) // p[j]: row assigned to column j (1-based), 0 none
	way := make([]int, m+1)
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = inf
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta := inf
			j1 := 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := cost[i0-1][j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j] = cur
					way[j] = j0
				}
				if minv[j] < delta {
					delta = minv[j]
					j1 = j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	out := make([]int, n)
	for j := 1; j <= m; j++ {
		if p[j] > 0 {
			out[p[j]-1] = j - 1
		}
	}
	return out
}

// Assign solves the assignment problem for a rectangular cost matrix
// (rows × columns, finite costs): it returns, for each row, the column
// assigned to it, or -1 when there are more rows than columns and the row
// is left out. The total cost is minimal.
func Assign(cost [][]float64) []int {
	n := len(cost)
	if n == 0 {
		return nil
	}
	m := len(cost[0])
	out := make([]int, n)
	if m == 0 {
		for i := range out {
			out[i] = -1
		}
		return out
	}
	if n <= m {
		return assign(cost, n, m)
	}
	t := make([][]float64, m)
	for j := range t {
		t[j] = make([]float64, n)
		for i := range n {
			t[j][i] = cost[i][j]
		}
	}
	for i := range out {
		out[i] = -1
	}
	for j, i := range assign(t, m, n) {
		out[i] = j
	}
	return out
}
