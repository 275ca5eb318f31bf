// Package fusion owns multi-sensor track fusion: it turns observations from
// ISR feeds (AIS, ADS-B/Mode S, ASTERIX radar, CoT sensors) into system
// tracks, one per real object, each with fused kinematics and covariance,
// its provenance (the contributing sources), a quality figure and a
// security label combined from its contributors' labels.
//
// Association. Observations that carry an identity (an AIS MMSI or an ICAO
// 24-bit address from ADS-B, Mode S in ASTERIX or CoT) update the track of
// that identity. Radar plots without identity are associated per datagram
// by global nearest neighbour: candidate pairs are gated by Mahalanobis
// distance (χ² 99 %, 2 degrees of freedom), gated pairs are grouped into
// independent clusters, and each cluster is solved optimally with the
// Hungarian method on the cost d² + ln|S|. A plot may join an identity
// track, so a radar plot of an AIS ship merges into that ship's track.
// Unassigned plots start tentative tracks, confirmed after M hits within N
// scan periods and dropped otherwise; confirmed tracks are deleted after a
// time without updates. A confirmed anonymous track that comes to lie on an
// identity track is merged into it.
//
// Filter. Every track runs a constant-velocity Kalman filter in the local
// tangent plane (east, north) at its own last position, re-centred on every
// update, so the plane is exact where the track is; altitude is carried
// separately. Measurements arriving out of order are moved to the track's
// time along its velocity, with the corresponding process noise added.
//
// Labels. A track's label is label.Combine(node nation, contributors'
// labels): the highest classification and the intersection of
// releasabilities. So that a partner sees the track built only from the
// sources released to it, and never a track that reveals a sensor not
// released to it, the engine keeps one picture per view: a view is the set
// of sources some audience (a nation at a clearance) may see, and a view's
// tracks are built only from its sources. When tracks of the same object
// in several views have the same contributors, only one is published.
//
// Output. Confirmed tracks become CoT events handed to a Publish function,
// latest state winning: as soon as an observation makes a track due (not
// on a periodic tick), at most once per PublishInterval (100 ms) per
// track, and only when the published picture would otherwise be off (moved
// more than PublishDistance, new sources or names, or a heartbeat). A track
// changed again within its interval is held and published with its newest
// state as soon as the interval has passed (publish.go). A track's uid is
// stable: NODE.MMSI-123456789, NODE.ICAO-A1B2C3 or NODE.T<n> for a track
// without identity, with ".v<k>" appended in views other than the first.
// Each event carries <contact>, <track course speed> and
// <__fusion id view sources quality hits updated received cov>: updated
// is the measurement time of the newest observation in the state, received
// when the node received the newest observation (so a client can tell the
// sensor's own delay from the node's), cov the covariance of east, north
// and the velocities (m² and m²/s²). The CoT types are listed
// at cotType.
//
// Observations that no sensor can report (coordinates out of range,
// non-finite values, older than MaxAge) are refused and counted.
package fusion
