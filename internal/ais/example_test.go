package ais_test

import (
	"fmt"
	"time"

	"kizuna/internal/ais"
)

// A two-sentence type 5 report (from gpsd's sample.aivdm) followed by a
// sentence with a bad checksum.
func ExampleDecoder() {
	d := ais.NewDecoder(ais.Config{})
	now := time.Now()
	for _, line := range []string{
		"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
		"!AIVDM,2,2,1,A,88888888880,2*25",
		"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5D",
	} {
		m, err := d.Line([]byte(line), now)
		switch {
		case err != nil:
			fmt.Println("dropped:", ais.Reason(err))
		case m == nil:
			fmt.Println("waiting for more fragments")
		default:
			fmt.Println(m.Type, m.MMSI, m.Name, m.Callsign, m.Destination)
		}
	}
	// Output:
	// waiting for more fragments
	// 5 351759000 EVER DIADEM 3FOF8 NEW YORK
	// dropped: checksum
}
