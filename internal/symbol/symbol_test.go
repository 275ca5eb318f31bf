package symbol

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSIDC(t *testing.T) {
	tests := []struct {
		cot, want string
	}{
		// The pairs named in the issue (given there as their first 11 positions).
		{"a-f-G-U-C-I", "SFGPUCI--------"},
		{"a-h-A-M-F", "SHAPMF---------"},
		{"a-u-S", "SUSP-----------"},
		// The pairs from the interop notes.
		{"a-h-S-C-L-D-D", "SHSPCLDD-------"},
		{"a-f-G-U-C-V-R-A", "SFGPUCVRA------"},
		// Every affiliation. o (none specified) and x (other) draw as unknown.
		{"a-p-G", "SPGP-----------"},
		{"a-u-G", "SUGP-----------"},
		{"a-a-G", "SAGP-----------"},
		{"a-f-G", "SFGP-----------"},
		{"a-n-G", "SNGP-----------"},
		{"a-s-G", "SSGP-----------"},
		{"a-h-G", "SHGP-----------"},
		{"a-j-G", "SJGP-----------"},
		{"a-k-G", "SKGP-----------"},
		{"a-o-G", "SUGP-----------"},
		{"a-x-G", "SUGP-----------"},
		// Every battle dimension.
		{"a-f-P", "SFPP-----------"},
		{"a-f-A", "SFAP-----------"},
		{"a-f-S", "SFSP-----------"},
		{"a-f-U", "SFUP-----------"},
		{"a-f-F", "SFFP-----------"},
		{"a-f-X", "SFXP-----------"},
		// Functions of other dimensions.
		{"a-h-A-W-M-S-S", "SHAPWMSS-------"},
		{"a-n-S-C-L-C", "SNSPCLC--------"},
		{"a-h-U-S-S", "SHUPSS---------"},
		{"a-f-G-E-V-A-T", "SFGPEVAT-------"},
		{"a-s-P-S", "SSPPS----------"},
		{"a-f-F-A", "SFFPA----------"},
		// Ground installations carry H in position 11.
		{"a-f-G-I", "SFGPI-----H----"},
		{"a-h-G-I-B-A", "SHGPIBA---H----"},
		// A function longer than six letters keeps its six-letter parent.
		{"a-f-G-U-C-V-R-A-S-X", "SFGPUCVRAS-----"},
		// CoT's lower-case refinements are not 2525 letters: keep the parent.
		{"a-f-A-C-F-q", "SFAPCF---------"},
		{"a-h-G-I-c-bar", "SHGPI-----H----"},
		{"a-f-G-U-C-I-d", "SFGPUCI--------"},
		// Odd input falls back to the most specific valid symbol.
		{"a-.-G-U-C", "SUGPUC---------"}, // wildcard affiliation
		{"a-q-G", "SUGP-----------"},     // unknown affiliation
		{"a-f", "SFZP-----------"},       // no dimension
		{"a-f-Q-U", "SFZP-----------"},   // unknown dimension
		{"a-f-g-U", "SFZP-----------"},   // lower-case dimension
		{"a-f-GG-U", "SFZP-----------"},  // multi-letter dimension
		{"a", "SUZP-----------"},
		{"a-", "SUZP-----------"},
		{"a-f-G--U-C", "SFGP-----------"}, // empty field ends the function
		{"a-f-G-U-C-", "SFGPUC---------"},
		{" a-f-G-U-C-I ", "SFGPUCI--------"},
		// Map points become tactical point graphics.
		{"b-m-p", "GFGPGPR--------"},
		{"b-m-p-w", "GFGPGPRW-------"},
		{"b-m-p-c", "GFGPGPOW-------"},
		{"b-m-p-s-p-i", "GFGPGPRI-------"},
		{"b-m-p-s-m", "GFGPGPRI-------"},
		{"b-m-p-t", "GFGPGPR--------"},
		// Launch and impact detections.
		{"b-d-l", "GUGPGPWM-------"},
		{"b-d-l-m", "GUGPGPWM-------"},
		{"b-d-i", "GUGPGPWI-------"},
		{"b-d-i-m", "GUGPGPWI-------"},
		{"b-d-a", ""},
		// Types that no symbol stands for.
		{"", ""},
		{"b-t-f", ""},
		{"b-m-r", ""},
		{"b-m", ""},
		{"t-x-c-t", ""},
		{"u-d-f", ""},
		{"ab-f-G", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cot, func(t *testing.T) {
			got := SIDC(tt.cot)
			if got != tt.want {
				t.Errorf("SIDC(%q) = %q, want %q", tt.cot, got, tt.want)
			}
		})
	}
}

// The issue writes its examples as 11-position codes; they must be prefixes
// of what SIDC returns.
func TestSIDCIssueExamples(t *testing.T) {
	for cot, prefix := range map[string]string{
		"a-f-G-U-C-I": "SFGPUCI----",
		"a-h-A-M-F":   "SHAPMF-----",
		"a-u-S":       "SUSP-------",
	} {
		if got := SIDC(cot); !strings.HasPrefix(got, prefix) {
			t.Errorf("SIDC(%q) = %q, want prefix %q", cot, got, prefix)
		}
	}
}

func TestAffiliation(t *testing.T) {
	tests := []struct {
		cot, want string
	}{
		{"a-f-G-U-C-I", "friend"},
		{"a-h-A-M-F", "hostile"},
		{"a-u-S", "unknown"},
		{"a-n-S-C", "neutral"},
		{"a-p-A", "pending"},
		{"a-a-G", "assumed-friend"},
		{"a-s-U", "suspect"},
		{"a-j-A", "joker"},
		{"a-k-A", "faker"},
		{"a-o-G", "unknown"},
		{"a-x-G", "unknown"},
		{"a-.-G", "unknown"},
		{"a", "unknown"},
		{"b-m-p-s-m", ""},
		{"t-x-c-t", ""},
		{"", ""},
		{"ab-f", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cot, func(t *testing.T) {
			if got := Affiliation(tt.cot); got != tt.want {
				t.Errorf("Affiliation(%q) = %q, want %q", tt.cot, got, tt.want)
			}
		})
	}
}

func FuzzSIDC(f *testing.F) {
	for _, s := range []string{
		"a-f-G-U-C-I", "a-h-A-M-F", "a-u-S", "a-h-S-C-L-D-D", "a-f-G-U-C-V-R-A",
		"a-.-G-I-c-bar", "b-m-p-s-p-i", "t-x-c-t", "a-f-G-I", "", "a-", "a-f-G-U-C-V-R-A-S-X-Y",
		"a-\xff-G", "a-f-\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cot string) {
		got := SIDC(cot)
		if got == "" {
			if strings.HasPrefix(strings.TrimSpace(cot), "a-") || strings.TrimSpace(cot) == "a" {
				t.Fatalf("SIDC(%q) is empty for an atom", cot)
			}
			return
		}
		if len(got) != Length || !utf8.ValidString(got) {
			t.Fatalf("SIDC(%q) = %q: not %d ASCII characters", cot, got, Length)
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
				t.Fatalf("SIDC(%q) = %q: bad character %q at %d", cot, got, c, i)
			}
		}
		switch got[0] {
		case 'S':
			if !strings.ContainsRune("PUAFNSHJK", rune(got[1])) {
				t.Fatalf("SIDC(%q) = %q: bad affiliation", cot, got)
			}
			if !strings.ContainsRune(dimensions+"Z", rune(got[2])) {
				t.Fatalf("SIDC(%q) = %q: bad dimension", cot, got)
			}
			if Affiliation(cot) == "" {
				t.Fatalf("Affiliation(%q) is empty for an atom", cot)
			}
		case 'G':
		default:
			t.Fatalf("SIDC(%q) = %q: bad coding scheme", cot, got)
		}
		if got[3] != 'P' {
			t.Fatalf("SIDC(%q) = %q: status is not present", cot, got)
		}
	})
}
