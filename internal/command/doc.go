// Package command owns Kizuna's chain of command and its orders.
//
// It keeps three things, durably, in SQLite:
//
//   - Units: a tree of units (nation, service, echelon, name) with the TAK
//     devices (uid and callsign) of each unit and the positions principals
//     hold in it. The tree is loaded from an order-of-battle (ORBAT) JSON file
//     and can be edited through the REST API.
//   - Grants: command relationships (COCOM, OPCON, TACON, ADCON, direct or
//     general SUPPORT) from a grantor to a grantee over a unit and its
//     subtree, with a validity window, a reason, and revocation.
//   - Orders: movement, task, support-request and report-request orders from
//     an issuing unit to a recipient unit, with a label, a deadline, an
//     optional location (point, route or area) and a timestamped, attributed
//     lifecycle.
//
// # Rules
//
// The joint-doctrine rules live in one place, rules.go: CheckGrant decides
// whether a grant may be made, Resolve decides whether a unit holds a given
// authority over another at an instant and returns the chain of grants that
// gives it, and OrderAuthority decides whether an order may be issued or
// acknowledged. Each violated rule has its own Rule code and message.
//
//   - COCOM belongs only to a combatant command (a unit whose echelon is
//     CCMD), is granted only by that nation's national command authority
//     and cannot be delegated.
//   - OPCON is granted by a COCOM or OPCON holder; TACON by a COCOM or OPCON
//     holder; direct or general SUPPORT by a COCOM or OPCON holder of the
//     supporting unit. These attachments are time-bounded: they need an end.
//   - ADCON never crosses nations.
//   - A foreign commander receives OPCON, TACON or SUPPORT over a nation's
//     unit only from a grantor of that nation. The nation (the grantor, any
//     COCOM or OPCON holder of that nation over the unit, or its national
//     authority) can revoke at any time.
//   - Authority is derived: a grant is in force only while its grantor still
//     holds the authority it granted from, so revoking or ending an OPCON
//     grant also ends the TACON given out of it.
//
// Orders need, of the issuing unit over the recipient unit: TACON or more
// for a movement order, OPCON or more for a task order, any relationship
// (command, ADCON or support) for a report request. A support request needs
// no authority (a support relationship is recorded when it exists) but the
// recipient may answer CANTCO. Authority is checked when the order is issued
// and again when the recipient acknowledges it, says WILCO or starts
// executing it.
//
// # Positions and the acting unit
//
// A principal acts for a unit only where it holds a position. A position
// belongs to a unit and matches principals of the unit's nation, optionally
// only one name (the certificate CN or callsign) and optionally only one
// role (the certificate's role: OU). A position marked national also lets
// its holder act for the nation's national command authority, which grants
// COCOM and ADCON. Every REST call that acts (grant, revoke, issue,
// acknowledge, cancel, edit units) names its acting unit in the "as" field;
// if the principal holds exactly one position it may be left out.
//
// # Labels
//
// An order's label defaults to the issuer's clearance, releasable to the
// issuer's and the recipient unit's nations. Grants are labelled the same
// way (releasable to the grantor's, grantee's and unit's nations); units
// are UNCLASSIFIED, releasable to every nation in the ORBAT unless the ORBAT
// says otherwise. Every list, show and stream filters with
// label.Releasable; what a principal may not see does not exist for it.
//
// # TAK
//
// An order reaches each device of the recipient unit as a GeoChat (b-t-f)
// direct message from the issuing unit, with marti dest naming the device,
// plus a marker (b-m-p-s-p-i), route (b-m-r) or area (u-d-f) when it has a
// location. ATAK delivery (b-t-f-d) and read (b-t-f-r) receipts move the
// order to DELIVERED and ACKNOWLEDGED; a GeoChat reply "WILCO <id>",
// "CANTCO <id> <reason>", "EXECUTING <id>", "COMPLETE <id>" or
// "FAILED <id> <reason>" from a device of the recipient unit sets that state.
//
// Every grant, revocation, authority decision and order transition is
// appended to the audit log.
package command
