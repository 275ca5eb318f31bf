package stix

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"kizuna/internal/label"
)

// KizunaExtension is the id of Kizuna's extension definition: a property
// extension of marking-definition that carries a Kizuna security label.
const KizunaExtension = "extension-definition--6b1f3a0e-4d2c-4c0b-9a7e-2f5d8c1e9b40"

// TLP2Extension is the OASIS extension definition of TLP 2.0 markings.
const TLP2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// TLP is a Traffic Light Protocol 2.0 level.
type TLP uint8

// The TLP 2.0 levels, from the widest to the narrowest. TLPNone means no
// TLP marking.
const (
	TLPNone TLP = iota
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

// tlpIDs are the ids OASIS published for the TLP 2.0 marking definitions
// (and, for reading only, the TLP 1.0 ones STIX 2.1 predefines).
var tlpIDs = map[string]TLP{
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLPClear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLPRed,
	// TLP 1.0, predefined by STIX 2.1.
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
}

var tlpNames = [...]string{"", "TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}

func (t TLP) String() string {
	if int(t) < len(tlpNames) {
		return tlpNames[t]
	}
	return "TLP:?"
}

// TLPOf returns the TLP level a marking-definition id stands for.
func TLPOf(id string) (TLP, bool) { t, ok := tlpIDs[id]; return t, ok }

// TLPMarkingID returns the OASIS TLP 2.0 marking-definition id of t.
func TLPMarkingID(t TLP) string {
	for id, v := range tlpIDs {
		if v == t && len(id) > 0 && isTLP2(id) {
			return id
		}
	}
	return ""
}

func isTLP2(id string) bool {
	switch id {
	case "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
		"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
		"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
		"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
		"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1":
		return true
	}
	return false
}

// ApplyTLP combines a TLP level with a Kizuna label. TLP only ever
// narrows a label, never widens it:
//
//   - TLP:CLEAR and TLP:GREEN leave the label as it is (the label, not
//     TLP, decides which nations see the object);
//   - TLP:AMBER leaves the releasability list as it is: the nations named
//     are the recipients' organisations with a need to know;
//   - TLP:AMBER+STRICT and TLP:RED restrict the object to the originator's
//     nation (releasable to it alone), whatever the label lists.
//
// The classification is never changed by TLP.
func ApplyTLP(l label.Label, t TLP) label.Label {
	switch t {
	case TLPAmberStrict, TLPRed:
		l.ReleasableTo = []string{l.Originator}
	}
	return l
}

// kizunaMarking is the body of Kizuna's marking extension.
type kizunaMarking struct {
	ExtensionType  string   `json:"extension_type"`
	Classification string   `json:"classification"`
	ReleasableTo   []string `json:"releasable_to"`
	Originator     string   `json:"originator"`
	Caveat         string   `json:"caveat,omitempty"`
}

// ErrMarking is wrapped by errors about a Kizuna marking definition.
var ErrMarking = errors.New("invalid Kizuna marking")

func checkKizunaMarking(ext json.RawMessage) error {
	var exts map[string]json.RawMessage
	if err := json.Unmarshal(ext, &exts); err != nil || len(exts) == 0 {
		return errors.New("extensions must be a non-empty object")
	}
	body, ok := exts[KizunaExtension]
	if !ok {
		return nil
	}
	_, err := parseKizunaMarking(body)
	return err
}

func parseKizunaMarking(body json.RawMessage) (label.Label, error) {
	var km kizunaMarking
	if err := json.Unmarshal(body, &km); err != nil {
		return label.Label{}, fmt.Errorf("%w: %v", ErrMarking, err)
	}
	if km.ExtensionType != "property-extension" {
		return label.Label{}, fmt.Errorf("%w: extension_type must be property-extension", ErrMarking)
	}
	c, err := label.ParseClassification(km.Classification)
	if err != nil {
		return label.Label{}, fmt.Errorf("%w: %v", ErrMarking, err)
	}
	var rel []string
	for _, n := range km.ReleasableTo {
		v, err := label.ParseNation(n)
		if err != nil {
			return label.Label{}, fmt.Errorf("%w: releasable_to: %v", ErrMarking, err)
		}
		rel = append(rel, v)
	}
	slices.Sort(rel)
	rel = slices.Compact(rel)
	orig := ""
	if km.Originator != "" {
		if orig, err = label.ParseNation(km.Originator); err != nil {
			return label.Label{}, fmt.Errorf("%w: originator: %v", ErrMarking, err)
		}
	}
	return label.Label{Classification: c, ReleasableTo: rel, Originator: orig, Caveat: km.Caveat}, nil
}

// KizunaLabelOf returns the label a marking-definition object carries in
// Kizuna's extension, if it carries one.
func KizunaLabelOf(o *Object) (label.Label, bool, error) {
	if o.Type != "marking-definition" {
		return label.Label{}, false, nil
	}
	var m struct {
		Extensions map[string]json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(o.Raw, &m); err != nil {
		return label.Label{}, false, err
	}
	body, ok := m.Extensions[KizunaExtension]
	if !ok {
		return label.Label{}, false, nil
	}
	l, err := parseKizunaMarking(body)
	return l, err == nil, err
}

// markingEpoch is the created time of every Kizuna marking definition:
// they are derived from the label alone, so identical everywhere.
const markingEpoch = "2026-01-01T00:00:00.000Z"

// MarkingID returns the id of the marking definition that carries l. It is
// a name-based (version 5 style) UUID of the label, so that every node
// derives the same id for the same label.
func MarkingID(l label.Label) string {
	h := sha1.New()
	h.Write([]byte("kizuna-label\x00" + l.Classification.String() + "\x00" + l.ReleasableString() + "\x00" + l.Originator + "\x00" + l.Caveat))
	s := h.Sum(nil)
	s[6] = (s[6] & 0x0f) | 0x50
	s[8] = (s[8] & 0x3f) | 0x80
	return fmt.Sprintf("marking-definition--%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// MarkingDefinition returns the marking-definition object that carries l.
func MarkingDefinition(l label.Label) []byte {
	rel := l.ReleasableTo
	if rel == nil {
		rel = []string{}
	}
	doc := map[string]any{
		"type":         "marking-definition",
		"spec_version": SpecVersion,
		"id":           MarkingID(l),
		"created":      markingEpoch,
		"name":         l.Marking(),
		"extensions": map[string]any{
			KizunaExtension: kizunaMarking{
				ExtensionType:  "property-extension",
				Classification: l.Classification.String(),
				ReleasableTo:   rel,
				Originator:     l.Originator,
				Caveat:         l.Caveat,
			},
		},
	}
	b, _ := json.Marshal(doc)
	return b
}

// NewIDv4 returns a fresh identifier of the given type with a random
// (version 4) UUID.
func NewIDv4(typ string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
