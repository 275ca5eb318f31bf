// Package taxii is Kizuna's TAXII 2.1 server: discovery at /taxii2/, one
// API root, collections, objects (GET with added_after, match[id], match[type],
// match[version], match[spec_version], limit and next; POST of envelopes
// answered with a status resource), manifest, versions, object deletion,
// status, TAXII error messages and the application/taxii+json;version=2.1
// media type, all per the OASIS TAXII 2.1 specification.
//
// Every object, manifest entry and version that leaves the server passes
// label.Releasable for the requesting principal. Withheld objects leave no
// trace: pages are filled from visible objects only, date_added is unique
// per object (so a page boundary never depends on a hidden object), the
// next token carries only the date_added of the last visible object, and a
// status resource is shown only to the principal that posted it.
//
// Labels come from data markings. An object's label is the poster's
// default (own clearance, own nation only) unless it references a Kizuna
// marking definition (package stix, KizunaExtension) carrying a
// classification and releasability; the originator is always the poster's
// nation, whatever the marking says. TLP 2.0 markings narrow the label
// (stix.ApplyTLP). The stored object carries a reference to the marking
// definition of its effective label, which is stored in the collection
// beside it.
//
// Objects are stored in SQLite and committed before the status resource
// is answered.
package taxii
