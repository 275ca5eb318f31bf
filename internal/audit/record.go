// Package audit owns Kizuna's tamper-evident audit log: an append-only,
// hash-chained sequence of JSON records under the data directory, with
// periodic checkpoints signed by the node's key, and its verification.
package audit

import "time"

// Record is one audit record. Seq, Time, Prev and Hash are set by the log.
type Record struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`    // principal, e.g. "VIPER1@JPN:SECRET" or "node:usa-hub"
	Action   string    `json:"action"`   // e.g. "connect", "label.reject", "order.issue"
	Object   string    `json:"object"`   // what it acted on, e.g. a uid, serial or order id
	Decision string    `json:"decision"` // "allow", "deny" or "info"
	Reason   string    `json:"reason,omitempty"`
	Prev     string    `json:"prev"` // hex SHA-256 of the previous record
	Hash     string    `json:"hash"` // hex SHA-256 of this record
}
