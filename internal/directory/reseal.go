package directory

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Reseal seals every Google Workspace setting that is not yet under the
// current master key again under it (see sso.Service.Reseal for the
// guarantees), and returns how many it rewrote.
func (s *Service) Reseal(ctx context.Context) (int, error) {
	n := 0
	p := store.Page{Limit: 100, Order: store.Asc}
	for {
		dirs, info, err := s.Store.ListDirectories(ctx, store.DirectoryFilter{}, p)
		if err != nil {
			return n, fmt.Errorf("list directories: %w", err)
		}
		for _, d := range dirs {
			done, err := s.Sealer.ResealWith(d.Google, d.ID+"/google", func(old, new string) (bool, error) {
				return s.Store.ReplaceSealed(ctx, store.SealedDirectoryGoogle, d.ID, old, new)
			})
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
		if info.After == "" {
			return n, nil
		}
		p.After = info.After
	}
}
