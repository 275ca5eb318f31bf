package modes_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"kizuna/internal/modes"
)

// A Beast stream (port 30005) read in arbitrary chunks, decoded and
// combined per aircraft. The two frames are the even/odd position pair of
// "The 1090MHz Riddle".
func ExampleBeastReader() {
	var stream []byte
	for _, h := range []string{"8D40621D58C386435CC412692AD6", "8D40621D58C382D690C8AC2863A7"} {
		frame, _ := hex.DecodeString(h)
		stream = append(stream, 0x1a, modes.BeastModeSLong, 0, 0, 0, 0, 0, 1, 0x80)
		stream = append(stream, frame...) // no 0x1a bytes to escape here
	}
	r := modes.NewBeastReader(0)
	tr := modes.NewTracker(modes.TrackerConfig{})
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for len(stream) > 0 {
		n := min(10, len(stream))
		r.Feed(stream[:n])
		stream = stream[n:]
		for {
			f, ok := r.Next()
			if !ok {
				break
			}
			m, err := modes.Decode(f.Data)
			if err != nil {
				continue // counted by modes.Reason(err) in a real feed
			}
			now = now.Add(time.Second)
			tr.Update(m, now)
		}
	}
	a, _ := tr.Get(0x40621D)
	fmt.Printf("%06X %.4f %.4f %d ft\n", a.ICAO, a.Lat, a.Lon, a.Altitude)
	// Output: 40621D 52.2572 3.9194 38000 ft
}

func ExampleParseSBS() {
	s, err := modes.ParseSBS([]byte("MSG,3,496,211,4CA2D6,10057,2008/11/28,14:53:50.594,2008/11/28,14:58:51.153,,37000,,,51.45735,-1.02826,,,0,0,0,0"))
	if err != nil {
		fmt.Println(modes.Reason(err))
		return
	}
	fmt.Printf("%06X %d ft %.5f %.5f\n", s.ICAO, s.Altitude, s.Lat, s.Lon)
	// Output: 4CA2D6 37000 ft 51.45735 -1.02826
}
