// Package asterix owns the EUROCONTROL ASTERIX surveillance data format for
// Kizuna: the data-block and record framing, the length rules of every item
// of the supported categories' User Application Profiles (UAPs), and decoders
// and encoders for the items Kizuna uses from
//
//   - CAT048, monoradar target reports (plots and local tracks), and
//   - CAT062, SDPS system tracks.
//
// Items that are not interpreted are still walked by their length rule
// (fixed, extended, repetitive, explicit or compound), so an unneeded item
// never desynchronises the items and records that follow it.
//
// Everything is validated against the bytes actually present: a hostile
// datagram yields an error wrapping one of the sentinel errors (ErrTruncated,
// ErrBadLength, ErrUnknownCategory, ErrUnknownItem, ErrMalformed), never a
// panic or an out-of-bounds read.
//
// The package also converts a radar's polar measurement into WGS-84
// latitude and longitude (see Site).
//
// The layouts follow the public EUROCONTROL specifications (CAT048 edition
// 1.32, CAT062 edition 1.21), as transcribed in machine-readable form by the
// asterix-specs project. The UAPs and item length rules are the same in
// CAT048 editions 1.21 to 1.32 and CAT062 editions 1.16 to 1.21 (later
// editions only add extension octets to FX-extended items, which the length
// rules follow). Pre-1.0 CAT062 editions (0.17 and earlier) have an
// entirely different UAP and are not supported: ASTERIX data carries no
// edition number, so such records either fail to decode or decode to
// nonsense. A feed must be configured as CAT062 1.x.
package asterix
