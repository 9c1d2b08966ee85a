package store

import "context"

// SealedColumn names a column that holds sealed values, as the whole value
// or inside a JSON document.
type SealedColumn string

// The columns that hold sealed values.
const (
	SealedConnectionConfig SealedColumn = "sso_connections.config"
	SealedDirectoryGoogle  SealedColumn = "directories.google"
)

// Secrets rewrites sealed values in place, for master key rotation.
type Secrets interface {
	// ReplaceSealed swaps the sealed value old for new in row id of col in one
	// statement; it reports false, changing nothing, if the row no longer
	// holds old (it was changed meanwhile), so a concurrent write is never
	// lost. Sealed values are unique (random nonces), so the swap touches
	// only that value.
	ReplaceSealed(ctx context.Context, col SealedColumn, id, old, new string) (bool, error)
}
