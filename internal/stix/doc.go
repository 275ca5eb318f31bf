// Package stix owns Kizuna's handling of STIX 2.1 objects: validation on
// ingest (required properties per type, identifier and timestamp formats,
// spec_version, reference targets), the STIX patterning grammar of
// indicators, and the data markings that carry Kizuna security labels (a
// marking-definition extension) and TLP 2.0.
//
// No Go STIX library was served by the module proxy when this package was
// written (github.com/TcM1911/stix2 and github.com/freetaxii/libstix2 were
// both refused), so the package is Kizuna's own. It keeps objects as raw
// JSON and validates what it reads, so that properties it does not know
// (custom properties, extensions) are kept and forwarded intact.
package stix
