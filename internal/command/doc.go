// Package command owns Kizuna's chain of command and its orders.
//
// It keeps three things, durably, in SQLite:
//
//   - Units: a tree of units (nation, service, echelon, name) with the TAK
//     devices (uid and callsign) of each unit and the positions principals
//     hold in it. The tree is loaded from an order-of-battle (ORBAT) JSON file
//     and can be edited through the REST API.
//   - Grants: command relationships (COCOM, OPCON, TACON, ADCON, SUPPORT
//     in four categories) and coordination relationships (coordinating
//     authority, DIRLAUTH) from a grantor to a grantee over a unit and its
//     subtree, with a validity window, a reason, a national decision or an
//     establishing directive where needed, and revocation.
//   - Orders: the order family (WARNORD, OPORD, FRAGORD, EXORD) and
//     requests (support, report) from an issuing unit to a recipient unit,
//     with a serial and date-time group, five paragraphs, NET/NLT and a
//     reply-by time, a label, an optional location (point, route or area)
//     and a timestamped, attributed lifecycle.
//
// The order of battle also carries, per nation pair, the policy of what
// command may cross between the two nations (alliance.go).
//
// # Rules
//
// The doctrine rules live in rules.go (grants, authority, revocation),
// alliance.go (nation pairs, national decisions, unit kinds), family.go
// (order family) and coordination.go (requests between nations). Each
// violated rule has its own Rule code and message.
//
//   - Command flows down the order of battle: a superior holds OPCON of its
//     subordinates (ADCON within its own service) unless a unit between
//     them has been placed under another commander's OPCON.
//   - COCOM belongs only to a combatant command, is assigned only by the
//     nation's national authority, one per force; a transfer names the
//     grant it supersedes.
//   - OPCON and TACON are delegated by a COCOM or OPCON holder, for a
//     period, never to the unit itself or its own subordinate, one holder
//     of each at a time unless on one line of command; a sub-grant is
//     clipped to its source's window and lapses with it.
//   - Command crosses nations only where the pair policy allows it (a
//     combined command) and with a named national decision and caveats.
//   - ADCON runs through the service chain and never crosses nations.
//   - SUPPORT is established by a common superior, with a directive.
//   - Coordination bodies hold and give no command; a support request to
//     another nation's forces goes through one to that nation's
//     headquarters, which decides and issues its own linked order.
//   - A grant is revoked by its grantor, the grantor's superiors or the
//     forces' national authority; an order is cancelled by its issuer or
//     the issuer's superiors.
//   - The caveats of a national decision (area bounds, mission types,
//     duration, no retransfer) bind every order and sub-grant under the
//     grant (caveats.go).
//   - At start-up every stored grant still in force is checked again
//     against the current order of battle and policies; one that breaks a
//     rule is suspended and audited (revalidate.go).
//
// Between national nodes a routed support request travels to the deciding
// nation's node, its decision and later states come back, and the
// national order only when released (federate.go). Readiness reports are
// structured: P, R, S, T and C levels, equipment and supply from
// sustainment where the node has them (readiness.go).
//
// Orders need, of the issuing unit over the recipient unit: TACON or more
// for a movement order, OPCON or more for a task order, any command, ADCON
// or support relationship for a report request. Authority is checked when
// the order is issued and again when the recipient acknowledges it, says
// WILCO or starts executing it. An order not answered by its reply-by time
// expires; an accepted or executing order does not.
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
// direct message from the issuing unit, with marti dest naming the device
// (info addressees get an untracked info copy),
// plus a marker (b-m-p-s-p-i), route (b-m-r) or area (u-d-f) when it has a
// location. ATAK delivery (b-t-f-d) and read (b-t-f-r) receipts move the
// order to DELIVERED and ACKNOWLEDGED; a GeoChat reply "WILCO <id>",
// "CANTCO <id> <reason>", "EXECUTING <id>", "COMPLETE <id>" or
// "FAILED <id> <reason>" or "SITREP <id> <text>" from a device of the
// recipient unit sets that state. Receipts and replies count only from the
// device the order was delivered to, recognised by the authenticated
// identity of its connection (ObserveFrom), never by what the event claims.
//
// Every grant, revocation, authority decision and order transition is
// appended to the audit log.
package command
