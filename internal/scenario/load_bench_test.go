package scenario

import (
	"testing"
	"time"

	"kizuna/internal/feed"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
	"kizuna/internal/taktest/cputime"
)

// BenchmarkLoadCapacity decodes and fuses the combined load of the ISR
// issue (20,000 AIS messages/s, 10,000 Mode S frames/s, 10 radars at a 5 s
// scan) on one goroutine, without sockets and as fast as it goes, and
// reports the CPU time it needs per second of traffic ("cores": below 1
// means one core keeps up). Fusion runs with the three views the radars' labels
// make, and Tick builds the CoT events of the tracks due every 200 ms of
// traffic time.
func BenchmarkLoadCapacity(b *testing.B) {
	const dur = 10 * time.Second
	load := NewLoad(LoadConfig{Seed: 1, Duration: dur, Start: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
	for b.Loop() {
		b.StopTimer()
		sources := map[string]label.Label{}
		parsers := map[string]*feed.Parser{}
		add := func(name, kind, lbl string, site *Sensor) {
			l, err := SensorLabel("JPN", Sensor{Name: name, Label: lbl})
			if err != nil {
				b.Fatal(err)
			}
			sources[name] = l
			pc := feed.Config{Name: name, Kind: kind, Label: l}
			if site != nil {
				s := site.Site
				pc.Site = &s
			}
			p, err := feed.NewParser(pc)
			if err != nil {
				b.Fatal(err)
			}
			parsers[name] = p
		}
		add("ais", KindAIS, "UNCLASSIFIED/USA,JPN,KOR", nil)
		add("beast", KindBeast, "UNCLASSIFIED/USA,JPN,KOR", nil)
		for _, r := range load.Radars() {
			add(r.Name, KindASTERIX, r.Label, &r)
		}
		eng, err := fusion.New(fusion.Config{Nation: "JPN", NodeID: "cap", Sources: sources})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0, wall0 := cputime.Process(), time.Now()
		var obs, events int
		next := load.Start().Add(200 * time.Millisecond)
		for _, m := range load.msgs {
			for !m.Time.Before(next) {
				events += len(eng.Tick(next))
				next = next.Add(200 * time.Millisecond)
			}
			var batches [][]fusion.Observation
			if m.Kind == KindASTERIX {
				batches = parsers[m.Sensor].Datagram(m.Data, m.Time)
			} else {
				batches, _ = parsers[m.Sensor].Stream(m.Data, m.Time)
			}
			for _, bt := range batches {
				obs += len(bt)
				eng.Process(bt)
			}
		}
		cpu, wall := cputime.Process()-cpu0, time.Since(wall0)
		// CPU time, not wall time: on a shared machine the wall time
		// includes waiting for a core. The garbage collector's background
		// work is counted, on whichever core it ran.
		b.ReportMetric(cpu.Seconds()/dur.Seconds(), "cores")
		b.ReportMetric(wall.Seconds()/dur.Seconds(), "wall-s/s")
		b.ReportMetric(float64(obs)/dur.Seconds(), "obs/s")
		b.ReportMetric(float64(events)/dur.Seconds(), "events/s")
		b.ReportMetric(float64(len(load.msgs))/dur.Seconds(), "chunks/s")
		st := eng.Stats()
		b.Logf("observations %d, tracks confirmed %d, merged %d, views %d, events %d", obs, len(eng.Tracks()), st.Merged, len(eng.Views()), events)
	}
}
