package stix

import "testing"

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		`[ipv4-addr:value = '198.51.100.1']`,
		`[file:hashes.'SHA-256' = 'ab'] AND [file:size > 1024] WITHIN 10 SECONDS`,
		`([a:b = 1] FOLLOWEDBY [c:d[*].e IN (1, 2.5, 'x')]) REPEATS 2 TIMES`,
		`[x:y MATCHES '\\d'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
		`[artifact:payload_bin = b'dGVzdA==' AND NOT EXISTS artifact:x]`,
		`[`, `'`, `t'`, `.5`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err == nil && (p == nil || len(p.ObjectTypes) == 0 || p.Comparisons == 0) {
			t.Fatalf("accepted %q without a comparison", s)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`))
	f.Add([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[a:b = 1]","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","extensions":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Validate(b)
		if err != nil {
			return
		}
		if !ValidID(o.ID) || IDType(o.ID) != o.Type || o.SpecVersion != SpecVersion {
			t.Fatalf("accepted an object with id %q type %q spec_version %q", o.ID, o.Type, o.SpecVersion)
		}
	})
}
