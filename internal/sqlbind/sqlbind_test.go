package sqlbind

import "testing"

func TestDollar(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT doc FROM t WHERE id = ?", "SELECT doc FROM t WHERE id = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"SELECT * FROM t WHERE a = ? AND b = 'what?' AND c = ?", "SELECT * FROM t WHERE a = $1 AND b = 'what?' AND c = $2"},
		{"SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , $1"},
		{"UPDATE t SET v = ? WHERE k IN (?,?,?,?,?,?,?,?,?,?)", "UPDATE t SET v = $1 WHERE k IN ($2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Dollar(tc.in); got != tc.want {
				t.Errorf("Dollar(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
