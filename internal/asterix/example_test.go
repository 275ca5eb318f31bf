package asterix_test

import (
	"encoding/hex"
	"fmt"

	"kizuna/internal/asterix"
)

func Example() {
	// One CAT048 target report (from a public sample capture).
	datagram, _ := hex.DecodeString("300030" +
		"FDF70219C9356D4DA0C5AFF1E0020005283C660C10C236D4182001C0780031BC0000400DEB07B9582E410020F5")
	records, err := asterix.Decode(datagram)
	if err != nil {
		fmt.Println(err)
		return
	}
	radar := asterix.Site{Lat: 45.5, Lon: 16.0, Height: 300} // an illustrative site
	for _, r := range records {
		fmt.Printf("CAT%03d %d/%d track %d %s %06X squawk %04o FL%.0f\n",
			r.Category, r.SAC, r.SIC, r.TrackNumber, r.Callsign, r.AircraftAddress, r.Mode3A.Code, r.FlightLevel)
		if r.Has(asterix.FieldPolar | asterix.FieldFlightLevel) {
			lat, lon := radar.Locate(r.Rho, r.Theta, asterix.FlightLevelHeight(r.FlightLevel))
			fmt.Printf("%.2f NM at %.2f° -> %.4f, %.4f\n", r.Rho, r.Theta, lat, lon)
		}
		kt, trk, _ := r.Velocity()
		fmt.Printf("%.0f kt on %.0f°\n", kt, trk)
	}

	// Encode a system track.
	track := asterix.Record{SAC: 1, SIC: 2, TrackNumber: 42, Lat: 35.5, Lon: 139.75, Callsign: "JAL123"}
	track.Set(asterix.FieldTrackNumber | asterix.FieldWGS84 | asterix.FieldCallsign)
	fmt.Printf("%X\n", asterix.Encode062([]asterix.Record{track}))
	// Output:
	// CAT048 25/201 track 3563 DLH65A 3C660C squawk 1000 FL330
	// 197.68 NM at 340.14° -> 48.5822, 14.3164
	// 434 kt on 124°
	// 3E0018891801020064FA50018D82D840281331CB3820002A
}
