package asterix

// The ICAO 6-bit character set of aircraft identification (Annex 10 Vol IV,
// table 3-9): 1-26 are A-Z, 32 is space, 48-57 are 0-9. Every other code is
// undefined and decodes as badChar.
const badChar = '?'

// badCode is what the encoder sends for badChar: an undefined code, so that
// a decoded identification re-encodes to something that decodes the same.
const badCode = 63

var icaoChars = func() (t [64]byte) {
	for i := range t {
		switch {
		case i >= 1 && i <= 26:
			t[i] = byte('A' + i - 1)
		case i == 32:
			t[i] = ' '
		case i >= 48 && i <= 57:
			t[i] = byte('0' + i - 48)
		default:
			t[i] = badChar
		}
	}
	return t
}()

// decodeCallsign decodes eight 6-bit characters from six octets and drops
// trailing spaces.
func decodeCallsign(b []byte) string {
	v := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
	var s [8]byte
	n := 0
	for i := 0; i < 8; i++ {
		c := icaoChars[(v>>(42-6*i))&0x3f]
		s[i] = c
		if c != ' ' {
			n = i + 1
		}
	}
	return string(s[:n])
}

// charCode returns the 6-bit code of c. Lower-case letters are upper-cased;
// characters outside the set become spaces, except badChar.
func charCode(c byte) uint64 {
	switch {
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 1
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 1
	case c >= '0' && c <= '9':
		return uint64(c-'0') + 48
	case c == badChar:
		return badCode
	}
	return 32
}

// appendCallsign encodes s as eight 6-bit characters (six octets): padded
// with spaces, truncated after eight characters.
func appendCallsign(dst []byte, s string) []byte {
	var v uint64
	for i := 0; i < 8; i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		v = v<<6 | charCode(c)
	}
	return append(dst, byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
