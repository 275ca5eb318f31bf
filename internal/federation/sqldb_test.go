package federation

import "testing"

// TestRebind: the SQLite queries are rewritten for PostgreSQL with
// numbered placeholders, upserts, the fed_ tables and a boolean compact.
func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT value FROM meta WHERE key = ?`, `SELECT value FROM fed_meta WHERE key = $1`},
		{`UPDATE peers SET nation = ? WHERE name = ?`, `UPDATE fed_peers SET nation = $1 WHERE name = $2`},
		{`INSERT OR IGNORE INTO seen (origin, seq) VALUES (?, ?)`, `INSERT INTO fed_seen (origin, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`},
		{`INSERT OR REPLACE INTO outq (peer, lane, seq, uid, compact, at, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			`INSERT INTO fed_outq (peer, lane, seq, uid, compact, at, body) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (peer, lane, seq) DO UPDATE SET uid = excluded.uid, compact = excluded.compact, at = excluded.at, body = excluded.body`},
		{`DELETE FROM outq WHERE peer = ? AND lane = ? AND seq IN (SELECT seq FROM outq WHERE peer = ? AND lane = ? AND compact = 1 ORDER BY seq LIMIT ?)`,
			`DELETE FROM fed_outq WHERE peer = $1 AND lane = $2 AND seq IN (SELECT seq FROM fed_outq WHERE peer = $3 AND lane = $4 AND compact ORDER BY seq LIMIT $5)`},
		{`SELECT der FROM certs`, `SELECT der FROM fed_certs`},
		{`SELECT seq, body FROM outq_x WHERE a = ?`, `SELECT seq, body FROM outq_x WHERE a = $1`}, // another table's name is left alone
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := rebind(true, tc.in); got != tc.want {
				t.Errorf("rebind(pg)\n got %s\nwant %s", got, tc.want)
			}
			if got := rebind(false, tc.in); got != tc.in {
				t.Errorf("rebind(sqlite) changed the query: %s", got)
			}
		})
	}
}
