package sqlstore

import "testing"

func TestPositional(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"in order", `INSERT INTO t (a, b, c) VALUES ($1, $2, $3)`, `INSERT INTO t (a, b, c) VALUES (?, ?, ?)`},
		{"two digits", `SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11`, `SELECT ?,?,?,?,?,?,?,?,?,?,?`},
		{"no placeholders", `SELECT 1`, `SELECT 1`},
		{"used twice", `SELECT $1 WHERE a = $1`, `SELECT $1 WHERE a = $1`},
		{"out of order", `UPDATE t SET a = $2 WHERE id = $1`, `UPDATE t SET a = $2 WHERE id = $1`},
		{"gap", `SELECT $1, $3`, `SELECT $1, $3`},
		{"dollar in a string", `SELECT '$2 a', $1`, `SELECT '$2 a', ?`},
		{"dollar in an identifier", `SELECT "$9", $1`, `SELECT "$9", ?`},
		{"dollar in a comment", "SELECT $1 -- $7\n, $2", "SELECT ? -- $7\n, ?"},
		{"unterminated quote", `SELECT '$1`, `SELECT '$1`},
		{"doubled quote", `SELECT 'it''s', $1`, `SELECT 'it''s', ?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := positional(tc.in); got != tc.want {
				t.Errorf("positional(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
