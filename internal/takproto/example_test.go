package takproto_test

import (
	"fmt"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/takproto"
)

// An event from an XML client goes out to a protobuf client as one
// streaming frame, and the receiver gets the same event back.
func Example() {
	e, err := cot.Decode([]byte(`<event version="2.0" uid="ANDROID-1" type="a-f-G-U-C" how="m-g" time="2026-11-27T08:00:00Z" start="2026-11-27T08:00:00Z" stale="2026-11-27T08:05:00Z" access="SECRET" releasableTo="JPN USA"><point lat="35.68" lon="139.77" hae="40" ce="5" le="9999999"/><detail><contact callsign="VIPER 1" endpoint="*:-1:stcp"/><track course="90" speed="2.5"/><remarks>on station</remarks></detail></event>`))
	if err != nil {
		panic(err)
	}
	e.Origin = cot.Origin{Nation: "JPN", Node: "jjoc-1"}

	frame, err := takproto.MarshalEvent(nil, e)
	if err != nil {
		panic(err)
	}
	m := takproto.FromEvent(e)
	fmt.Println("typed contact:", m.CotEvent.Detail.Contact.Callsign)
	fmt.Println("xmlDetail:", m.CotEvent.Detail.XmlDetail)

	s := takproto.NewSplitter(0)
	s.Feed(frame)
	payload, _ := s.Next()
	back, err := takproto.ToEvent(payload)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.UID, back.Callsign, back.Course, back.Access, back.ReleasableTo, back.Origin.Nation)
	// Output:
	// typed contact: VIPER 1
	// xmlDetail: <remarks>on station</remarks><__origin nation="JPN" node="jjoc-1"/>
	// ANDROID-1 VIPER 1 90 SECRET JPN USA JPN
}

// The negotiation of a streaming connection, as a server sees it.
func ExampleRequestedVersion() {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	fmt.Printf("server offers: %s\n", takproto.Offer(now))

	// The client's request arrives as XML.
	req, err := cot.DecodeUnchecked(takproto.Request(now))
	if err != nil {
		panic(err)
	}
	v, ok := takproto.RequestedVersion(req)
	fmt.Println("client asks for version", v, ok)
	fmt.Printf("server answers: %s\n", takproto.Response(now, ok && v == takproto.Version))
	// Output:
	// server offers: <event version="2.0" uid="kizuna-takp" type="t-x-takp-v" how="m-g" time="2026-11-27T08:00:00.000Z" start="2026-11-27T08:00:00.000Z" stale="2026-11-27T08:01:00.000Z"><point lat="0" lon="0" hae="0" ce="999999" le="999999"/><detail><TakControl><TakProtocolSupport version="1"/></TakControl></detail></event>
	// client asks for version 1 true
	// server answers: <event version="2.0" uid="kizuna-takp" type="t-x-takp-r" how="m-g" time="2026-11-27T08:00:00.000Z" start="2026-11-27T08:00:00.000Z" stale="2026-11-27T08:01:00.000Z"><point lat="0" lon="0" hae="0" ce="999999" le="999999"/><detail><TakControl><TakResponse status="true"/></TakControl></detail></event>
}
