package fusion

import "math"

// The filter is a constant-velocity Kalman filter with state
// [east, north, v_east, v_north] in the track's local tangent plane and a
// continuous white-noise acceleration model (spectral density q, m²/s³).

type vec4 [4]float64
type mat4 [4][4]float64

// predict advances x and P by dt seconds (dt may be negative for a mean
// moved back in time; the added noise uses |dt|).
func predict(x *vec4, p *mat4, dt, q float64) {
	if dt == 0 {
		return
	}
	x[0] += x[2] * dt
	x[1] += x[3] * dt
	// P = F P Fᵀ with F = [[I, dt I], [0, I]].
	var np mat4
	for i := range 4 {
		for j := range 4 {
			np[i][j] = p[i][j]
		}
	}
	for j := range 4 { // rows: row0 += dt*row2, row1 += dt*row3
		np[0][j] = p[0][j] + dt*p[2][j]
		np[1][j] = p[1][j] + dt*p[3][j]
	}
	var r mat4
	for i := range 4 { // columns
		r[i][0] = np[i][0] + dt*np[i][2]
		r[i][1] = np[i][1] + dt*np[i][3]
		r[i][2] = np[i][2]
		r[i][3] = np[i][3]
	}
	a := math.Abs(dt)
	q3, q2, q1 := q*a*a*a/3, q*a*a/2, q*a
	r[0][0] += q3
	r[1][1] += q3
	r[0][2] += q2
	r[2][0] += q2
	r[1][3] += q2
	r[3][1] += q2
	r[2][2] += q1
	r[3][3] += q1
	*p = r
}

// innovation returns the position innovation covariance S = HPHᵀ + R and
// the squared Mahalanobis distance of residual (de, dn).
func innovation(p *mat4, r [3]float64, de, dn float64) (s [3]float64, d2 float64, ok bool) {
	s = [3]float64{p[0][0] + r[0], p[0][1] + r[1], p[1][1] + r[2]}
	det := s[0]*s[2] - s[1]*s[1]
	if !(det > 0) {
		return s, 0, false
	}
	d2 = (s[2]*de*de - 2*s[1]*de*dn + s[0]*dn*dn) / det
	return s, d2, true
}

// updatePos applies a position measurement with residual (de, dn) and
// covariance r (ee, en, nn).
func updatePos(x *vec4, p *mat4, r [3]float64, de, dn float64) bool {
	s := [3]float64{p[0][0] + r[0], p[0][1] + r[1], p[1][1] + r[2]}
	det := s[0]*s[2] - s[1]*s[1]
	if !(det > 0) {
		return false
	}
	si := [2][2]float64{{s[2] / det, -s[1] / det}, {-s[1] / det, s[0] / det}}
	// K = P Hᵀ S⁻¹ (4×2).
	var k [4][2]float64
	for i := range 4 {
		k[i][0] = p[i][0]*si[0][0] + p[i][1]*si[1][0]
		k[i][1] = p[i][0]*si[0][1] + p[i][1]*si[1][1]
	}
	for i := range 4 {
		x[i] += k[i][0]*de + k[i][1]*dn
	}
	// P = (I - K H) P.
	var np mat4
	for i := range 4 {
		for j := range 4 {
			np[i][j] = p[i][j] - k[i][0]*p[0][j] - k[i][1]*p[1][j]
		}
	}
	symmetrize(&np)
	*p = np
	return true
}

// updateVel applies a velocity measurement (ve, vn) with variance rv per
// axis, after the position update.
func updateVel(x *vec4, p *mat4, rv, ve, vn float64) bool {
	s := [3]float64{p[2][2] + rv, p[2][3], p[3][3] + rv}
	det := s[0]*s[2] - s[1]*s[1]
	if !(det > 0) {
		return false
	}
	si := [2][2]float64{{s[2] / det, -s[1] / det}, {-s[1] / det, s[0] / det}}
	de, dn := ve-x[2], vn-x[3]
	var k [4][2]float64
	for i := range 4 {
		k[i][0] = p[i][2]*si[0][0] + p[i][3]*si[1][0]
		k[i][1] = p[i][2]*si[0][1] + p[i][3]*si[1][1]
	}
	for i := range 4 {
		x[i] += k[i][0]*de + k[i][1]*dn
	}
	var np mat4
	for i := range 4 {
		for j := range 4 {
			np[i][j] = p[i][j] - k[i][0]*p[2][j] - k[i][1]*p[3][j]
		}
	}
	symmetrize(&np)
	*p = np
	return true
}

func symmetrize(p *mat4) {
	for i := range 4 {
		for j := i + 1; j < 4; j++ {
			v := (p[i][j] + p[j][i]) / 2
			p[i][j], p[j][i] = v, v
		}
	}
}
