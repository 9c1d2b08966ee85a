package sso

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Reseal seals every connection secret (every SP key of the set, OIDC
// client secrets) that
// is not yet under the current master key again under it, and returns how
// many it rewrote. It is safe to run while other nodes serve logins (each
// value is swapped by compare-and-set) and to run again after an
// interruption (current values are skipped).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	n := 0
	p := store.Page{Limit: 100, Order: store.Asc}
	for {
		conns, info, err := s.Store.ListConnections(ctx, store.ConnectionFilter{}, p)
		if err != nil {
			return n, fmt.Errorf("list connections: %w", err)
		}
		for _, c := range conns {
			replace := func(old, new string) (bool, error) {
				return s.Store.ReplaceSealed(ctx, store.SealedConnectionConfig, c.ID, old, new)
			}
			values := []struct{ sealed, label string }{
				{c.SAML.SPKeySealed, spKeyAAD(c.ID)}, // a connection from before SP key sets
				{c.OIDC.ClientSecretSealed, c.ID + "/oidc_client_secret"},
			}
			for _, k := range c.SAML.SPKeys {
				values = append(values, struct{ sealed, label string }{k.KeySealed, spKeyAAD(c.ID)})
			}
			for _, v := range values {
				done, err := s.Sealer.ResealWith(v.sealed, v.label, replace)
				if err != nil {
					return n, err
				}
				if done {
					n++
				}
			}
		}
		if info.After == "" {
			return n, nil
		}
		p.After = info.After
	}
}
