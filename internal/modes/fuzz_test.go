package modes

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
	"time"
)

var goldenHex = []string{
	"8D406B902015A678D4D220AA4BDA",
	"8D40621D58C382D690C8AC2863A7",
	"8D40621D58C386435CC412692AD6",
	"8D485020994409940838175B284F",
	"8DA05F219B06B6AF189400CBC33F",
	"903a23ff426a4e65f7487a775d17",
	"20001718029FCD",
	"2A00516D492B80",
	"5D484FDEA248F5",
}

func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	if m.HasTrack && (m.Track < 0 || m.Track >= 360 || math.IsNaN(m.Track)) {
		t.Fatalf("track %v", m.Track)
	}
	if m.HasGroundSpeed && (m.GroundSpeed < 0 || math.IsNaN(m.GroundSpeed)) {
		t.Fatalf("ground speed %v", m.GroundSpeed)
	}
	if m.HasCPR && (m.CPR.Lat >= 1<<17 || m.CPR.Lon >= 1<<17) {
		t.Fatalf("CPR %+v", m.CPR)
	}
	if m.ICAO >= 1<<24 {
		t.Fatalf("ICAO %X", m.ICAO)
	}
}

func checkAircraft(t *testing.T, a Aircraft) {
	t.Helper()
	if a.HasPosition && (a.Lat < -90 || a.Lat > 90 || a.Lon < -180 || a.Lon > 180 || math.IsNaN(a.Lat) || math.IsNaN(a.Lon)) {
		t.Fatalf("position %v %v", a.Lat, a.Lon)
	}
}

// FuzzModeS decodes arbitrary frames and feeds what decodes to a tracker.
func FuzzModeS(f *testing.F) {
	for _, h := range goldenHex {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewTracker(TrackerConfig{MaxAircraft: 4, HasReceiver: true, ReceiverLat: 52, ReceiverLon: 4, MaxRangeNM: 150})
		now := time.Unix(1_700_000_000, 0)
		// Interpret the input both as one frame and as a run of frames.
		frames := [][]byte{data}
		for i := 0; i+14 <= len(data); i += 14 {
			frames = append(frames, data[i:i+14])
		}
		for _, fr := range frames {
			m, err := Decode(fr)
			if err != nil {
				if m != nil || Reason(err) == "other" {
					t.Fatalf("Decode: %v, %v", m, err)
				}
				continue
			}
			checkMessage(t, m)
			now = now.Add(time.Second)
			if a, ok := tr.Update(m, now); ok {
				checkAircraft(t, a)
			}
			if tr.Len() > 4 {
				t.Fatalf("%d aircraft", tr.Len())
			}
		}
	})
}

// FuzzBeast splits arbitrary bytes as a Beast stream, in two chunkings,
// and checks the frames and the buffer bound.
func FuzzBeast(f *testing.F) {
	var stream []byte
	for _, h := range goldenHex {
		b, _ := hex.DecodeString(h)
		typ := byte(BeastModeSLong)
		if len(b) == 7 {
			typ = BeastModeSShort
		}
		stream = append(stream, beastRecord(typ, 0x1a1a, 0x1a, b)...)
	}
	f.Add(stream, uint8(5))
	f.Add([]byte{0x1a, '3', 0x1a, 0x1a, 0x1a}, uint8(1))
	f.Add(bytes.Repeat([]byte{0x1a}, 40), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		step := int(chunk%32) + 1
		var whole, parts []BeastFrame
		r := NewBeastReader(128)
		r.Feed(data)
		for {
			fr, ok := r.Next()
			if !ok {
				break
			}
			whole = append(whole, copyFrame(fr))
		}
		r2 := NewBeastReader(4096)
		for i := 0; i < len(data); i += step {
			r2.Feed(data[i:min(i+step, len(data))])
			for {
				fr, ok := r2.Next()
				if !ok {
					break
				}
				checkFrame(t, fr)
				parts = append(parts, copyFrame(fr))
				if m, err := Decode(fr.Data); err == nil {
					checkMessage(t, m)
				}
			}
			if r2.Buffered() > 4096 {
				t.Fatalf("buffered %d", r2.Buffered())
			}
		}
		if r.Buffered() > 128 {
			t.Fatalf("buffered %d", r.Buffered())
		}
		// With room for everything, chunking must not change the result.
		if len(data) <= 4096 {
			r3 := NewBeastReader(4096)
			r3.Feed(data)
			var all []BeastFrame
			for {
				fr, ok := r3.Next()
				if !ok {
					break
				}
				all = append(all, copyFrame(fr))
			}
			if len(all) != len(parts) {
				t.Fatalf("%d frames whole, %d in chunks of %d", len(all), len(parts), step)
			}
			for i := range all {
				if all[i].Timestamp != parts[i].Timestamp || !bytes.Equal(all[i].Data, parts[i].Data) {
					t.Fatalf("frame %d differs between chunkings", i)
				}
			}
		}
		_ = whole
	})
}

func copyFrame(f BeastFrame) BeastFrame {
	f.Data = append([]byte(nil), f.Data...)
	return f
}

func checkFrame(t *testing.T, f BeastFrame) {
	t.Helper()
	want := map[byte]int{BeastModeAC: 2, BeastModeSShort: 7, BeastModeSLong: 14}[f.Type]
	if want == 0 || len(f.Data) != want || f.Timestamp >= 1<<48 {
		t.Fatalf("frame %+v", f)
	}
}

// FuzzSBS parses arbitrary lines and feeds what parses to a tracker.
func FuzzSBS(f *testing.F) {
	for _, s := range []string{
		"MSG,1,1,1,406B90,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,EZY85MH ,,,,,,,,,,,\r\n",
		"MSG,3,496,211,4CA2D6,10057,2008/11/28,14:53:50.594,2008/11/28,14:58:51.153,,37000,,,51.45735,-1.02826,,,0,0,0,0",
		"MSG,4,1,1,485020,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,,159,183,,,-832H,,,,,0\r\n",
		"MSG,6,1,1,3C6586,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,,,,,,,7700,0,-1,0,0\r\n",
		"MSG,3,1,1,~1A2B3C,1,,,,,,1000,,,10.0,20.0,,,,,,",
		"AIR,,1,1,4CA2D6,1,,,,,,,,,,,,",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := ParseSBS(line)
		if err != nil {
			if Reason(err) == "other" {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		if s.Type < 1 || s.Type > 8 || s.ICAO >= 1<<24 {
			t.Fatalf("parsed %+v", s)
		}
		if s.HasPosition && (s.Lat < -90 || s.Lat > 90 || s.Lon < -180 || s.Lon > 180) {
			t.Fatalf("position %v %v", s.Lat, s.Lon)
		}
		if s.HasTrack && (s.Track < 0 || s.Track >= 360) {
			t.Fatalf("track %v", s.Track)
		}
		tr := NewTracker(TrackerConfig{MaxAircraft: 1})
		a, ok := tr.UpdateSBS(&s, time.Unix(0, 0))
		if !ok {
			t.Fatal("first aircraft refused")
		}
		checkAircraft(t, a)
	})
}
