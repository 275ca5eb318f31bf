package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"kizuna/internal/label"
)

func newBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "nats://127.0.0.1:4222"
	}
	if cfg.Name == "" {
		cfg.Name = "kizuna_jpn-hub"
	}
	cfg.Deliver = func(Envelope) {}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func TestFilters(t *testing.T) {
	tests := []struct {
		clearance label.Classification
		want      []string
	}{
		{label.Unclassified, []string{"kizuna_jpn-hub.ev.1.>"}},
		{label.Confidential, []string{"kizuna_jpn-hub.ev.1.>", "kizuna_jpn-hub.ev.2.>"}},
		{label.Secret, []string{"kizuna_jpn-hub.ev.1.>", "kizuna_jpn-hub.ev.2.>", "kizuna_jpn-hub.ev.3.>"}},
		{label.TopSecret, []string{"kizuna_jpn-hub.ev.>"}},
		{label.Invalid, []string{"kizuna_jpn-hub.ev.>"}}, // unknown: everything
	}
	for _, tc := range tests {
		t.Run(tc.clearance.String(), func(t *testing.T) {
			if got := newBus(t, Config{MaxClearance: tc.clearance}).Filters(); !slices.Equal(got, tc.want) {
				t.Errorf("Filters = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSubjectMatchesFilters: every label's subject is consumed by exactly
// the instances whose clearance covers its classification.
func TestSubjectMatchesFilters(t *testing.T) {
	classes := []label.Classification{label.Unclassified, label.Confidential, label.Secret, label.TopSecret}
	for _, ev := range classes {
		subj := newBus(t, Config{}).Subject(label.Label{Classification: ev, Originator: "JPN"})
		if strings.Count(subj, ".") != 3 {
			t.Errorf("subject %q: want PREFIX.ev.LEVEL.NATION", subj)
		}
		if _, err := levelFromSubject(subj); err != nil {
			t.Errorf("levelFromSubject(%q): %v", subj, err)
		}
		for _, cl := range classes {
			b := newBus(t, Config{MaxClearance: cl})
			matched := false
			for _, f := range b.Filters() {
				if strings.HasSuffix(f, ">") && strings.HasPrefix(subj, strings.TrimSuffix(f, ">")) {
					matched = true
				}
			}
			if want := ev <= cl; matched != want {
				t.Errorf("instance cleared %v consumes %v traffic: %v, want %v", cl, ev, matched, want)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	deliver := func(Envelope) {}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no url", Config{Name: "x", Deliver: deliver}},
		{"http url", Config{URL: "http://127.0.0.1:4222", Name: "x", Deliver: deliver}},
		{"no name", Config{URL: "nats://127.0.0.1:4222", Deliver: deliver}},
		{"no deliver", Config{URL: "nats://127.0.0.1:4222", Name: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
}

func TestAdmitBeforeConnect(t *testing.T) {
	b := newBus(t, Config{})
	if err := b.Admit(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Admit before Connect = %v, want ErrUnavailable", err)
	}
}

// FuzzLevelFromSubject: subjects come from the NATS server; the parser
// must never panic and accept only levels 1-4.
func FuzzLevelFromSubject(f *testing.F) {
	for _, s := range []string{"kizuna_x.ev.1.JPN", "kizuna_x.ev.4.USA", "a.ev.0.X", "ev.1", "", "....", "k.ev.99.J", "k.ev.-1.J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lv, err := levelFromSubject(s)
		if err == nil && (lv < 1 || lv > 4) {
			t.Errorf("levelFromSubject(%q) = %d without error", s, lv)
		}
	})
}
