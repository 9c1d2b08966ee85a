package directory

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// inTx runs fn in a transaction: a shared one when a committer is set
// (see groupcommit).
func (s *Service) inTx(ctx context.Context, fn func(q store.Queries) error) error {
	if s.Commit != nil {
		return s.Commit.InTx(ctx, fn)
	}
	return s.Store.InTx(ctx, fn)
}
