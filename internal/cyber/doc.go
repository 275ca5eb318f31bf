// Package cyber ties cyber threat intelligence to the rest of Kizuna.
//
// Sightings turns the node's own security events (refused certificates,
// forged or malformed frames, floods, by source) into STIX observed-data
// and sighting objects, batched per category and source so that a flood
// makes one sighting with a count, not one object per packet.
//
// Effects tracks which picture objects (ORBAT units or CoT uids) an
// incident or sighting references, through the custom property
// x_kizuna_affected_uids, and answers, per principal and through
// label.Releasable, which units have a cyber status.
package cyber
