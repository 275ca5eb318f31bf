package cot

import "testing"

func TestFlash(t *testing.T) {
	tests := []struct {
		typ, qos, detail string
		want             bool
	}{
		{"a-h-A-W-M-S-S", "", "", true},
		{"a-u-A-W-M", "", "", true},
		{"a-f-A-W-M-U", "", "", true},
		{"a-h-A-W-MX", "", "", false},
		{"a-h-A-W", "", "", false},
		{"b-d-l", "", "", true},
		{"b-d-l-m", "", "", true},
		{"b-d-i", "", "", true},
		{"b-d-id", "", "", false},
		{"b-a-o-tbl", "", "", true},
		{"b-l-c-n", "", "", true},
		{"a-f-G-U-C", "", "", false},
		{"b-t-f", "", "", false},
		{"a-f-G-U-C", "9-r-c", "", true},
		{"a-f-G-U-C", "8-r-c", "", false},
		{"a-f-G-U-C", "", `<emergency type="911 Alert">X</emergency>`, true},
		{"b-m-p-s-m", "", `<__flash/>`, true},
		{"b-m-p-s-m", "", `<remarks>flash</remarks>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.qos+tt.detail, func(t *testing.T) {
			ev := &Event{Type: tt.typ, QoS: tt.qos}
			if tt.detail != "" {
				ev.HasDetail, ev.Detail = true, []byte(tt.detail)
			}
			if got := ev.Flash(); got != tt.want {
				t.Errorf("Flash = %v, want %v", got, tt.want)
			}
		})
	}
}
