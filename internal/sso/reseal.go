package sso

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Reseal seals every connection secret (every SP key of the set, OIDC
// client secrets) that is not yet under the current master key again under
// it, and returns how many it rewrote. It is safe to run while other nodes
// serve logins (each value is swapped by compare-and-set) and to run again
// after an interruption (current values are skipped).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	n := 0
	err := store.EachPage(func(p store.Page) ([]store.Connection, store.PageInfo, error) {
		return s.Store.ListConnections(ctx, store.ConnectionFilter{}, p)
	}, func(c store.Connection) error {
		sealed := []string{c.SAML.SPKeySealed} // a connection from before SP key sets
		for _, k := range c.SAML.SPKeys {
			sealed = append(sealed, k.KeySealed)
		}
		labels := make([]string, len(sealed))
		for i := range labels {
			labels[i] = spKeyAAD(c.ID)
		}
		sealed, labels = append(sealed, c.OIDC.ClientSecretSealed), append(labels, c.ID+"/oidc_client_secret")
		for i, v := range sealed {
			done, err := s.Sealer.ResealWith(v, labels[i], func(old, new string) (bool, error) {
				return s.Store.ReplaceSealed(ctx, store.SealedConnectionConfig, c.ID, old, new)
			})
			if err != nil {
				return err
			}
			if done {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("reseal connections: %w", err)
	}
	return n, nil
}
