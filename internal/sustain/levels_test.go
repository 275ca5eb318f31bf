package sustain

import "testing"

// TestLevels: the readiness report's equipment and supply levels follow
// the colour rule's thresholds.
func TestLevels(t *testing.T) {
	dos := func(v float64) *float64 { return &v }
	tests := []struct {
		name         string
		r            Readiness
		equip, suppl int
	}{
		{"nothing assigned or required", Readiness{}, 1, 1},
		{"all ready", Readiness{Assigned: 10, Available: 10, Munitions: []Munition{{Required: 10, OnHand: 10, DaysOfSupply: dos(30)}}}, 1, 1},
		{"amber", Readiness{Assigned: 10, Available: 8, Munitions: []Munition{{Required: 10, OnHand: 7, DaysOfSupply: dos(5)}}}, 2, 2},
		{"level 3", Readiness{Assigned: 10, Available: 5, Munitions: []Munition{{Required: 10, OnHand: 5, DaysOfSupply: dos(2)}}}, 3, 3},
		{"level 4", Readiness{Assigned: 10, Available: 2, Munitions: []Munition{{Required: 10, OnHand: 1}}}, 4, 4},
		{"full load, two days left", Readiness{Munitions: []Munition{{Required: 10, OnHand: 10, DaysOfSupply: dos(2)}}}, 1, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, s := tc.r.Levels()
			if e != tc.equip || s != tc.suppl {
				t.Fatalf("levels %d/%d, want %d/%d", e, s, tc.equip, tc.suppl)
			}
		})
	}
}
