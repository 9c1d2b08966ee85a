package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// errInvalidText refuses a write of text that PostgreSQL cannot store.
var errInvalidText = errs.BadRequest("invalid_text", "Text may not contain the NUL character (U+0000) or bytes that are not UTF-8.")

// storable reports whether every string argument can be stored as text:
// PostgreSQL rejects NUL and invalid UTF-8 with an error, and SQLite would
// keep them, so both backends refuse them the same way here.
func storable(args []any) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return false
		}
		if s, ok := a.(sql.NullString); ok && (strings.IndexByte(s.String, 0) >= 0 || !utf8.ValidString(s.String)) {
			return false
		}
	}
	return true
}

// textChecked wraps an execer so that unstorable text never reaches the
// database: a write is refused with a 400, and a read finds nothing, which
// is the truth, since no stored row can hold such a value. Whatever the
// input's source (a URL, a form, an IdP's claims), the answer is then a
// clear 4xx or "not found", never a database error surfacing as a 500.
type textChecked struct{ inner execer }

// noRows is a query that returns no rows; reads with unstorable arguments
// run it instead.
const noRows = `SELECT 1 WHERE 1 = 0`

func (t textChecked) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if !storable(args) {
		return nil, errInvalidText
	}
	return t.inner.ExecContext(ctx, q, args...)
}

func (t textChecked) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if !storable(args) {
		return t.inner.QueryContext(ctx, noRows)
	}
	return t.inner.QueryContext(ctx, q, args...)
}

func (t textChecked) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if !storable(args) {
		return t.inner.QueryRowContext(ctx, noRows)
	}
	return t.inner.QueryRowContext(ctx, q, args...)
}
