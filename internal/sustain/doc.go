// Package sustain owns Kizuna's sustainment picture: the munitions ledger,
// transfers between nations, engagements, maintenance work orders, unit
// readiness and stock forecasts.
//
// # Ledger
//
// Every change of stock is a Movement of a quantity of one item from one
// location and owner nation to another, with a reason and a label. Balances
// (item, location, owner) are never stored or edited: they are derived by
// replaying the movements, on open and incrementally as movements are
// recorded. Two pseudo-locations bound the ledger: PRODUCTION, the only
// source (reason production-acceptance), and EXPENDED, the only sink
// (reason expenditure). Every other reason moves stock between two real
// locations, so the sum of all real balances of an item always equals what
// was accepted from production minus what was expended; Verify proves it
// and compares the live balances with a replay from scratch.
//
// Only a transfer receipt changes the owner nation. Serialised items carry
// one serial per unit moved; each serial is where its last movement put it.
//
// # Labels
//
// Every record carries a label. A balance reveals every movement that made
// it, so its label is the combination (label.Combine) of its location's
// label and the labels of those movements: the highest classification and
// the intersection of their releasabilities. Readiness and forecasts
// combine the labels of everything they are computed from. Every list,
// export, total, chart series and event leaving the package is filtered by
// label.Releasable for the principal asking; totals are sums of the
// entries the principal may see, never of hidden ones.
//
// # Durability
//
// Every acknowledged change is committed to SQLite (synchronous=FULL) before
// the call returns. Movements carry an optional idempotency key: recording
// the same key twice returns the first movement and changes nothing, which
// makes a transfer's receipt (the owner change) happen exactly once however
// often it is retried.
package sustain
