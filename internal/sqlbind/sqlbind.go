// Package sqlbind turns the SQLite-style queries of the services that
// keep their state in SQL (federation queues, the chain of command,
// missions, sustainment) into PostgreSQL's form, so one query text serves
// both stores: the ? placeholders become $1, $2, … in order.
package sqlbind

import (
	"strconv"
	"strings"
)

// Dollar numbers the ? placeholders of query as $1, $2, … . A ? inside a
// quoted string literal (between single quotes; a doubled quote inside
// it is an escaped one) is left alone.
func Dollar(query string) string {
	if !strings.ContainsRune(query, '?') {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for _, r := range query {
		switch {
		case r == '\'':
			quoted = !quoted // '' toggles twice: still inside
		case r == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
