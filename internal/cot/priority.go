package cot

import (
	"bytes"
	"strings"
)

// Flash reports whether the event is flash traffic, which jumps every
// client queue and takes the flash lane of every federation link. The choice, from MITRE's public
// CoT type list (CoTtypes.xml) and the TAK conventions:
//
//   - a-?-A-W-M and below, any affiliation: Air/Weapon/Missile, a missile
//     in flight. This covers the ballistic and cruise missile tracks of a
//     missile warning: a-?-A-W-M-S-S surface-to-surface missile (SSM),
//     a-?-A-W-M-U subsurface-to-surface missile, a-?-A-W-M-S land launched,
//     a-?-A-W-M-L land attack, a-?-A-W-M-A air launched, a-?-A-W-M-S-A SAM.
//   - b-d-l and below: Detection/Launch, the launch point.
//   - b-d-i and below: Detection/Impact, the (predicted) impact point.
//   - b-a-o-…: the TAK emergency alerts (b-a-o-tbl 911, b-a-o-pan ring
//     the bell, b-a-o-opn troops in contact, b-a-o-can cancel).
//   - b-l and below: Alarm (MITRE's redesignated alarm branch, CBRNE).
//   - Anything marked flash: a qos attribute whose priority digit (the
//     first of "p-o-a", 0..9) is 9, or a detail carrying <emergency> (the
//     ATAK emergency element) or Kizuna's <__flash/> marker.
//
// It is computed once per event, where the hub message is built, and
// read from there by the hub, federation and (as "flash" in the object
// JSON) the web map.
func (ev *Event) Flash() bool {
	t := ev.Type
	if isMissile(t) {
		return true
	}
	for _, p := range []string{"b-d-l", "b-d-i", "b-l"} {
		if t == p || strings.HasPrefix(t, p+"-") {
			return true
		}
	}
	if strings.HasPrefix(t, "b-a-o-") {
		return true
	}
	if len(ev.QoS) >= 1 && ev.QoS[0] == '9' && (len(ev.QoS) == 1 || ev.QoS[1] == '-') {
		return true
	}
	if ev.HasDetail && (bytes.Contains(ev.Detail, []byte("<__flash")) || bytes.Contains(ev.Detail, []byte("<emergency"))) {
		return true
	}
	return false
}

// IsMissile reports whether the event is a missile in flight: type
// a-X-A-W-M or below, for any affiliation X. The web map raises its
// missile warning for these (the object JSON carries "missile").
func (ev *Event) IsMissile() bool { return isMissile(ev.Type) }

// isMissile matches a-X-A-W-M and below for any affiliation X.
func isMissile(t string) bool {
	if len(t) < 9 || t[0] != 'a' || t[1] != '-' || t[3] != '-' {
		return false
	}
	rest := t[4:]
	return rest == "A-W-M" || strings.HasPrefix(rest, "A-W-M-")
}

// NodeTypePrefix begins the CoT types that Kizuna nodes send one another
// over federation (chain-of-command requests, missions, sustainment
// transfers, STIX objects and their deletions). Only a node makes them:
// a client's event of such a type is refused at ingest.
const NodeTypePrefix = "t-x-k-"
