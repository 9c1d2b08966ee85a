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
	err := store.EachPage(func(p store.Page) ([]store.Directory, store.PageInfo, error) {
		return s.Store.ListDirectories(ctx, store.DirectoryFilter{}, p)
	}, func(d store.Directory) error {
		done, err := s.Sealer.ResealWith(d.Google, d.ID+"/google", func(old, new string) (bool, error) {
			return s.Store.ReplaceSealed(ctx, store.SealedDirectoryGoogle, d.ID, old, new)
		})
		if done {
			n++
		}
		return err
	})
	if err != nil {
		return n, fmt.Errorf("reseal directories: %w", err)
	}
	return n, nil
}
