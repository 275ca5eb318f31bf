package web

import (
	"testing"

	"kizuna/internal/label"
)

func TestMayReadMetrics(t *testing.T) {
	usa := func(c label.Classification, role string) label.Principal {
		return label.Principal{Nation: "USA", Clearance: c, Role: role}
	}
	tests := []struct {
		name  string
		p     label.Principal
		floor label.Classification
		want  bool
	}{
		{"own nation at the floor", usa(label.Secret, ""), label.Secret, true},
		{"own nation above the floor", usa(label.TopSecret, ""), label.Secret, true},
		{"own nation below the floor", usa(label.Confidential, ""), label.Secret, false},
		{"own admin below the floor", usa(label.Unclassified, "admin"), label.Secret, true},
		{"partner, cleared", label.Principal{Nation: "JPN", Clearance: label.TopSecret}, label.Unclassified, false},
		{"partner admin", label.Principal{Nation: "JPN", Clearance: label.TopSecret, Role: "admin"}, label.Unclassified, false},
		{"no principal", label.Principal{}, label.Unclassified, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MayReadMetrics(tt.p, "USA", tt.floor); got != tt.want {
				t.Errorf("MayReadMetrics = %v, want %v", got, tt.want)
			}
		})
	}
	if MayReadMetrics(usa(label.TopSecret, "admin"), "", label.Unclassified) {
		t.Error("a node without a nation serves metrics")
	}
}
