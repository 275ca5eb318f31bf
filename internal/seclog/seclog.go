// Package seclog names the categories of the node's security log and tags
// log records with them.
//
// A log record belongs in the security log (DATA/security.log) when it
// carries the attribute Key: either a category string (Tag) or the boolean
// true, optionally beside a "category" attribute. The record's message
// text never decides: renaming a log line cannot drop it from the security
// log, and a line that merely says "refused" is not put there.
package seclog

import "log/slog"

// Key is the attribute that marks a record security-relevant; CategoryKey
// names its category in the security log.
const (
	Key         = "security"
	CategoryKey = "category"
)

// Categories of security log lines.
const (
	TLS        = "tls_refused"
	Connection = "connection"
	Event      = "event_rejected"
	Rate       = "rate_limited"
	Revocation = "revocation"
	Enrollment = "enrollment"
	Federation = "federation"
	Audit      = "audit"
	Config     = "config"
	HTTP       = "http_refused"
	Other      = "other"
)

// Tag returns the attribute that puts a record in the security log under
// category c. Pass it among a log call's arguments:
//
//	log.Warn("TLS handshake refused", seclog.Tag(seclog.TLS), "remote", addr)
func Tag(c string) slog.Attr { return slog.String(Key, c) }

// Classify reports whether a record with these attributes (bound ones
// first, then the record's own) is security-relevant, and its category.
// A later attribute overrides an earlier one.
func Classify(bound []slog.Attr, own func(func(slog.Attr) bool)) (category string, ok bool) {
	var flagged bool
	scan := func(a slog.Attr) bool {
		switch a.Key {
		case Key:
			v := a.Value.Resolve()
			switch v.Kind() {
			case slog.KindBool:
				flagged = v.Bool()
			case slog.KindString:
				flagged = v.String() != ""
				if flagged {
					category = v.String()
				}
			}
		case CategoryKey:
			category = a.Value.String()
		}
		return true
	}
	for _, a := range bound {
		scan(a)
	}
	if own != nil {
		own(scan)
	}
	if !flagged {
		return "", false
	}
	if category == "" {
		category = Other
	}
	return category, true
}
