package seclog_test

import (
	"log/slog"
	"testing"
	"time"

	"kizuna/internal/seclog"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		bound []slog.Attr
		args  []any
		want  string // "" means not security-relevant
	}{
		{"tagged", nil, []any{seclog.Tag(seclog.TLS), "remote", "127.0.0.1:1"}, seclog.TLS},
		{"flag and category", nil, []any{"security", true, "category", "custom"}, "custom"},
		{"flag only", nil, []any{"security", true}, seclog.Other},
		{"bound flag", []slog.Attr{slog.Bool("security", true)}, nil, seclog.Other},
		{"bound tag, own category", []slog.Attr{seclog.Tag(seclog.Connection)}, []any{"category", seclog.Rate}, seclog.Rate},
		{"flag false", nil, []any{"security", false, "category", "x"}, ""},
		{"empty tag", nil, []any{seclog.Tag("")}, ""},
		{"untagged", nil, []any{"reason", "dtd"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := slog.NewRecord(time.Time{}, slog.LevelWarn, "TLS handshake refused", 0)
			r.Add(tt.args...)
			got, ok := seclog.Classify(tt.bound, r.Attrs)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("Classify = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
