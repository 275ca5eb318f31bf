package stix

import (
	"errors"
	"strings"
	"testing"

	"kizuna/internal/label"
)

func TestParsePattern(t *testing.T) {
	good := []string{
		`[ipv4-addr:value = '198.51.100.1']`,
		`[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32']`,
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:size > 1024]`,
		`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 180 SECONDS`,
		`[file:name = 'foo.dll'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
		`([file:name = 'a'] FOLLOWEDBY [file:name = 'b']) WITHIN 1.5 SECONDS`,
		`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name LIKE 'pdf%']`,
		`[network-traffic:dst_port IN (80, 443, 8080)]`,
		`[x-custom:is_bad = true]`,
		`[artifact:payload_bin = b'dGVzdA==' AND artifact:hashes.'SHA-1' = h'0a1b']`,
		`[process:extensions.'windows-process-ext'.aslr_enabled NOT = false]`,
		`[windows-registry-key:values[0].name = 'x' AND NOT EXISTS windows-registry-key:key] `,
		`[ipv4-addr:value ISSUBSET '198.51.100.0/24']`,
		`[(file:name = 'a' OR file:name = 'b') AND file:size < -1.0]`,
	}
	for _, p := range good {
		t.Run("ok/"+p, func(t *testing.T) {
			if _, err := ParsePattern(p); err != nil {
				t.Fatalf("ParsePattern(%q) = %v", p, err)
			}
		})
	}
	bad := map[string]string{
		``:                                          "want '['",
		`ipv4-addr:value = '1.2.3.4'`:               "want '['",
		`[ipv4-addr:value = '1.2.3.4'`:              "want ']'",
		`[ipv4-addr:value == '1.2.3.4']`:            "'=='",
		`[ipv4-addr:value = 1.2.3.4]`:               "want ']'",
		`[ipv4-addr:value = '1.2.3.4] `:             "unterminated",
		`[ipv4-addr value = 'x']`:                   "':'",
		`[IPV4:value = 'x']`:                        "object type",
		`[ipv4-addr:value = 'x'] WITHIN 0 SECONDS`:  "positive",
		`[ipv4-addr:value = 'x'] REPEATS 2.5 TIMES`: "positive integer",
		`[ipv4-addr:value = 'x'] START t'2016-07-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'`: "STOP must be later",
		`[file:created = t'2016-07-01 00:00:00']`:                                            "timestamp",
		`[file:hashes.MD5 = h'abc']`:                                                         "hex",
		`[file:size IN ()]`:                                                                  "literal",
		`[file:name = 'a'] AND`:                                                              "want '['",
		`[file:name = 'a'] [file:name = 'b']`:                                                "after the pattern",
		`[file:name LIKE 5]`:                                                                 "string",
		`[file:na-me = 'a']`:                                                                 "hyphen",
		`[file:name = 'a\x']`:                                                                "escaped",
		`[file:name = true AND file:size > true]`:                                            "boolean",
		`[file:x[-1] = 'a']`:                                                                 "index",
		strings.Repeat("(", 100) + `[file:name='a']` + strings.Repeat(")", 100):              "nested",
	}
	for p, want := range bad {
		t.Run("bad/"+p, func(t *testing.T) {
			_, err := ParsePattern(p)
			if err == nil || !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), want) {
				t.Fatalf("ParsePattern(%q) = %v, want an ErrPattern containing %q", p, err, want)
			}
		})
	}
}

const (
	ts1 = "2026-01-01T00:00:00.000Z"
	ts2 = "2026-01-02T00:00:00.000Z"
)

func TestValidate(t *testing.T) {
	ok := []string{
		`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"` + ts1 + `","modified":"` + ts1 + `","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"` + ts1 + `"}`,
		`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"` + ts1 + `","modified":"` + ts1 + `","pattern":"alert tcp any any -> any any","pattern_type":"snort","valid_from":"` + ts1 + `"}`,
		`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`,
		`{"type":"incident","spec_version":"2.1","id":"incident--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"` + ts1 + `","modified":"` + ts2 + `","name":"intrusion","x_kizuna_affected_uids":["JPN-CP-1"]}`,
		`{"type":"sighting","spec_version":"2.1","id":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75","created":"` + ts1 + `","modified":"` + ts1 + `","sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","where_sighted_refs":["identity--b67d30ff-02ac-498a-92f9-32f845f448ff"],"count":3}`,
		`{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"` + ts1 + `","modified":"` + ts1 + `","first_observed":"` + ts1 + `","last_observed":"` + ts2 + `","number_observed":50,"object_refs":["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"]}`,
		`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"clear"}}}`,
		string(MarkingDefinition(label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"})),
		`{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"` + ts1 + `","modified":"` + ts1 + `","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`,
	}
	for i, s := range ok {
		if o, err := Validate([]byte(s)); err != nil {
			t.Errorf("%d: Validate = %v", i, err)
		} else if o.ID == "" || o.SpecVersion != "2.1" {
			t.Errorf("%d: got %+v", i, o)
		}
	}
	ind := func(repl ...string) string {
		s := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"` + ts1 + `","modified":"` + ts1 + `","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"` + ts1 + `"}`
		for i := 0; i < len(repl); i += 2 {
			s = strings.Replace(s, repl[i], repl[i+1], 1)
		}
		return s
	}
	bad := []struct{ name, doc, want string }{
		{"not json", `{`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"no type", `{"id":"x"}`, `"type" is missing`},
		{"bad type", ind(`"type":"indicator"`, `"type":"Indicator"`), "type"},
		{"unknown type", ind(`"type":"indicator"`, `"type":"weapon"`, `indicator--`, `weapon--`), "not a STIX 2.1 type"},
		{"bad id", ind(`indicator--8e2e2d2b`, `indicator--XYZ`), "RFC 4122"},
		{"id type mismatch", ind(`"id":"indicator--`, `"id":"malware--`), "does not start with its type"},
		{"spec_version", ind(`"spec_version":"2.1"`, `"spec_version":"2.0"`), "spec_version"},
		{"no spec_version", ind(`"spec_version":"2.1",`, ``), `"spec_version" is missing`},
		{"bad created", ind(`"created":"2026-01-01T00:00:00.000Z"`, `"created":"2026-01-01 00:00:00"`), "created"},
		{"no timezone", ind(`"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-01-01T00:00:00.000+09:00"`), "modified"},
		{"modified before created", ind(`"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2025-01-01T00:00:00.000Z"`), "before created"},
		{"no pattern", ind(`"pattern":"[ipv4-addr:value = '198.51.100.1']",`, ``), `"pattern" is missing`},
		{"bad pattern", ind(`[ipv4-addr:value = '198.51.100.1']`, `[ipv4-addr:value = ]`), "pattern"},
		{"valid_until", ind(`"valid_from"`, `"valid_until":"2025-01-01T00:00:00Z","valid_from"`), "valid_until"},
		{"created_by_ref type", ind(`"pattern_type"`, `"created_by_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","pattern_type"`), "must point at identity"},
		{"marking ref type", ind(`"pattern_type"`, `"object_marking_refs":["identity--31b940d4-6f7f-459a-80ea-9c1f17b5891b"],"pattern_type"`), "marking-definition"},
		{"null", ind(`"pattern_type"`, `"description":null,"pattern_type"`), "null"},
		{"confidence", ind(`"pattern_type"`, `"confidence":101,"pattern_type"`), "confidence"},
		{"prop name", ind(`"pattern_type"`, `"Bad-Name":1,"pattern_type"`), "property name"},
		{"sighting of sco", `{"type":"sighting","spec_version":"2.1","id":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75","created":"` + ts1 + `","modified":"` + ts1 + `","sighting_of_ref":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}`, "must point at"},
		{"where sighted", `{"type":"sighting","spec_version":"2.1","id":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75","created":"` + ts1 + `","modified":"` + ts1 + `","sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","where_sighted_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]}`, "identity or location"},
		{"number_observed", `{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"` + ts1 + `","modified":"` + ts1 + `","first_observed":"` + ts1 + `","last_observed":"` + ts2 + `","number_observed":0,"object_refs":["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"]}`, "number_observed"},
		{"observed order", `{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"` + ts1 + `","modified":"` + ts1 + `","first_observed":"` + ts2 + `","last_observed":"` + ts1 + `","number_observed":1,"object_refs":["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"]}`, "before first_observed"},
		{"relationship to sighting", `{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"` + ts1 + `","modified":"` + ts1 + `","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75"}`, "SDO or SCO"},
		{"empty refs", `{"type":"report","spec_version":"2.1","id":"report--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"` + ts1 + `","modified":"` + ts1 + `","name":"r","published":"` + ts1 + `","object_refs":[]}`, "empty list"},
		{"marking bad label", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"` + ts1 + `","extensions":{"` + KizunaExtension + `":{"extension_type":"property-extension","classification":"SEKRET","releasable_to":[]}}}`, "classification"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate([]byte(c.doc))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

func TestMarkingRoundTrip(t *testing.T) {
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	o, err := Validate(MarkingDefinition(l))
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != MarkingID(l) {
		t.Fatalf("id %s, want %s", o.ID, MarkingID(l))
	}
	got, ok, err := KizunaLabelOf(o)
	if err != nil || !ok || !got.Equal(l) {
		t.Fatalf("KizunaLabelOf = %+v %v %v, want %+v", got, ok, err, l)
	}
	if MarkingID(l) == MarkingID(label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "JPN"}) {
		t.Fatal("two labels share a marking id")
	}
}

func TestApplyTLPNeverWidens(t *testing.T) {
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR", "USA"}, Originator: "JPN"}
	for _, tl := range []TLP{TLPNone, TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed} {
		got := ApplyTLP(l, tl)
		for _, n := range got.ReleasableTo {
			if !strings.Contains(l.ReleasableString(), n) {
				t.Errorf("%s widened %v to %v", tl, l.ReleasableTo, got.ReleasableTo)
			}
		}
		if got.Classification != l.Classification {
			t.Errorf("%s changed the classification", tl)
		}
		strict := tl == TLPRed || tl == TLPAmberStrict
		if strict && (len(got.ReleasableTo) != 1 || got.ReleasableTo[0] != "JPN") {
			t.Errorf("%s: releasable %v, want originator only", tl, got.ReleasableTo)
		}
		if !strict && len(got.ReleasableTo) != 3 {
			t.Errorf("%s narrowed %v", tl, got.ReleasableTo)
		}
	}
	if id := TLPMarkingID(TLPAmberStrict); id != "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" {
		t.Fatalf("AMBER+STRICT id %s", id)
	}
}
