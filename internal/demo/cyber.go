package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/stix"
	"kizuna/internal/taxii"
)

// CyberUnit is the unit whose base network the demo's intrusion attempt
// targets: the JPN Amphibious Rapid Deployment Brigade (shared with USA).
const CyberUnit = "demo-jpn-ardb"

// CyberObjects is the demo's cyber storyline: JPN's node sights an
// intrusion attempt on the ARDB base network. The objects carry no
// marking: they are stored national (SECRET, JPN only) and then released
// to USA (see Cyber). The sighting names the unit, so the unit shows a
// cyber status on the JPN and USA maps and not on KOR's.
func CyberObjects(now time.Time) []json.RawMessage {
	ts := stix.FormatTimestamp(now)
	ident := "identity--0b5b1e76-2b8e-4a43-9a4c-5e3d0d1a7c11"
	ind := "indicator--3f7c2a0e-9d41-4d8b-8f0a-6b2e4c9d1a55"
	objs := []any{
		map[string]any{"type": "identity", "spec_version": "2.1", "id": ident, "created": ts, "modified": ts,
			"name": "JGSDF Ainoura garrison network", "identity_class": "organization"},
		map[string]any{"type": "indicator", "spec_version": "2.1", "id": ind, "created": ts, "modified": ts,
			"name": "Brute-force source against base VPN", "indicator_types": []string{"malicious-activity"},
			"pattern": "[ipv4-addr:value = '198.51.100.77'] AND [network-traffic:dst_port = 443]", "pattern_type": "stix",
			"valid_from": ts},
		map[string]any{"type": "sighting", "spec_version": "2.1", "id": stix.NewIDv4("sighting"), "created": ts, "modified": ts,
			"sighting_of_ref": ind, "where_sighted_refs": []string{ident}, "count": 57, "first_seen": ts, "last_seen": ts,
			"description":            "Intrusion attempt on the ARDB base network (VPN brute force)",
			"x_kizuna_affected_uids": []string{CyberUnit}},
	}
	out := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}

// Cyber posts the storyline into the JPN node's sightings collection, as
// the node itself, national (SECRET//JPN ONLY), once the demo is up; then
// a JPN operator releases the sighting and what it references to USA
// with the release action (audited, federated to the USA node).
func Cyber(ctx context.Context, jpn *node.Node, after time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(after):
	}
	p := label.Principal{Nation: jpn.Nation(), Clearance: label.Secret, Name: "node:" + jpn.NodeID()}
	national := label.Label{Classification: label.Secret, ReleasableTo: []string{jpn.Nation()}, Originator: jpn.Nation()}
	objs := CyberObjects(time.Now())
	st, err := jpn.TAXII().Add(ctx, node.SightingsCollectionID(jpn.NodeID()), p, objs, &taxii.AddOptions{Label: &national})
	if err != nil {
		return err
	}
	if st.FailureCount > 0 {
		return fmt.Errorf("cyber storyline refused: %s", st.Failures[0].Message)
	}
	operator := label.Principal{Nation: jpn.Nation(), Clearance: label.Secret, Name: "JPN-CYBER-OPS"}
	for _, s := range st.Successes {
		if _, err := jpn.ReleaseCyber(ctx, operator, "", s.ID, []string{"USA"}); err != nil {
			return fmt.Errorf("releasing %s to USA: %w", s.ID, err)
		}
	}
	return nil
}
