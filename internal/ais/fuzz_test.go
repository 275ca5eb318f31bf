package ais

import (
	"bytes"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C",
	"!AIVDM,1,1,,A,403OviQuMGCqWrRO9>E6fE700@GO,0*4D",
	"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n!AIVDM,2,2,1,A,88888888880,2*25",
	"!AIVDM,1,1,,A,B5NJ;PP005l4ot5Isbl03wsUkP06,0*76",
	"!AIVDM,1,1,,B,C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220,0*0B",
	"!AIVDM,2,1,5,B,E1mg=5J1T4W0h97aRh6ba84<h2d;W:Te=eLvH50```q,0*46\n!AIVDM,2,2,5,B,:D44QDlp0C1DU00,2*36",
	"!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D",
	"!AIVDO,1,1,,A,H>W@vFTe6??406t2??21J0Wg8Jb0,0*6F",
	"!AIVDM,1,1,,B,KC5E2b@U19PFdLbMuc5=ROv62<7m,0*16",
	"\\s:rORBCOMM000,c:1241544035*4A\\!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C",
	"!AIVDM,2,2,1,B,00000000000,2*26",
	"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
}

// FuzzAIS feeds newline-separated lines to one decoder and checks that it
// never panics, that every error has a known kind, that memory stays bounded
// and that decoded messages are sane.
func FuzzAIS(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(Config{MaxPending: 4})
		now := t0
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			now = now.Add(100 * time.Millisecond)
			m, err := d.Line(line, now)
			if err != nil {
				if m != nil {
					t.Fatalf("message and error together: %v", err)
				}
				if Reason(err) == "other" {
					t.Fatalf("error of unknown kind: %v", err)
				}
				continue
			}
			if d.Pending() > 4 {
				t.Fatalf("%d pending groups", d.Pending())
			}
			if m == nil {
				continue
			}
			switch m.Type {
			case 1, 2, 3, 4, 5, 18, 19, 21, 24, 27:
			default:
				t.Fatalf("decoded unsupported type %d", m.Type)
			}
			if m.HasPosition && (m.Lat < -90 || m.Lat > 90 || m.Lon < -180 || m.Lon > 180) {
				t.Fatalf("position out of range: %v %v", m.Lat, m.Lon)
			}
			if m.HasCOG && (m.COG < 0 || m.COG >= 360) {
				t.Fatalf("COG %v", m.COG)
			}
			if m.HasHeading && (m.Heading < 0 || m.Heading >= 360) {
				t.Fatalf("heading %v", m.Heading)
			}
			for _, s := range []string{m.Name, m.Callsign, m.Destination, m.VendorID} {
				for i := 0; i < len(s); i++ {
					if s[i] < ' ' || s[i] > '_' || s[i] == '@' {
						t.Fatalf("string %q has character %q", s, s[i])
					}
				}
			}
		}
	})
}
