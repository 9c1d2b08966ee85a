package sso

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Our own SP keys (request signing, assertion decryption) form a set per
// SAML connection: the active key signs and decrypts; the next key is
// published in the SP metadata beside it (so an IdP that re-reads our
// metadata may encrypt to it before it is promoted, and trusts its
// signatures once it is) and decrypts too; a
// retired key still decrypts for a grace period, for IdPs that have not
// re-read our metadata yet.
const (
	// DefaultSPKeyGrace is how long a retired SP key still decrypts.
	DefaultSPKeyGrace = 7 * 24 * time.Hour
	// DefaultSPKeyLifetime is how long a key stays active before the
	// scheduled promotion replaces it with the next key.
	DefaultSPKeyLifetime = 365 * 24 * time.Hour
	// EventSPKeyRotated is a Gatehouse event (not WorkOS): the next SP key
	// became active.
	EventSPKeyRotated = "connection.sp_key_rotated"
	// maxRetiredSPKeys bounds the retired keys kept in their grace period
	// (each is one more decryption attempt on a bad ciphertext).
	maxRetiredSPKeys = 3
	// spKeyScanEvery is how often a node looks for SP keys due for
	// promotion.
	spKeyScanEvery = time.Hour
	spKeyCacheSize = 1024
)

// spKeyAAD binds a sealed SP key to its connection.
func spKeyAAD(connID string) string { return connID + "/saml_sp_key" }

func (s *Service) spKeyGrace() time.Duration {
	if s.SPKeyGrace > 0 {
		return s.SPKeyGrace
	}
	return DefaultSPKeyGrace
}

func (s *Service) spKeyLifetime() time.Duration {
	if s.SPKeyLifetime > 0 {
		return s.SPKeyLifetime
	}
	return DefaultSPKeyLifetime
}

// spKeySet returns a connection's SP keys. A connection made before key
// sets has one key in the old fields: it is read as the active key, and
// written as a set the next time the connection's keys change.
func spKeySet(c store.Connection) []store.SPKey {
	if len(c.SAML.SPKeys) > 0 || c.SAML.SPKeySealed == "" {
		return c.SAML.SPKeys
	}
	return []store.SPKey{{
		ID: "sp_key_legacy", State: store.SPKeyActive, KeySealed: c.SAML.SPKeySealed,
		CertificatePEM: c.SAML.SPCertificatePEM, CreatedAt: c.CreatedAt, ActivatedAt: c.CreatedAt,
	}}
}

func keyIndex(set []store.SPKey, state string) int {
	return slices.IndexFunc(set, func(k store.SPKey) bool { return k.State == state })
}

// setSPKeys stores set on c in place of the old single-key fields.
func setSPKeys(c *store.Connection, set []store.SPKey) {
	c.SAML.SPKeys = set
	c.SAML.SPKeySealed, c.SAML.SPCertificatePEM = "", ""
}

// newSPKey makes a key pair and seals its private key.
func (s *Service) newSPKey(connID, state string, now time.Time) (store.SPKey, error) {
	key, cert, err := ssosaml.NewSPKeyPair("Gatehouse SP " + connID)
	if err != nil {
		return store.SPKey{}, err
	}
	pemKey, err := ssosaml.MarshalKey(key)
	if err != nil {
		return store.SPKey{}, err
	}
	k := store.SPKey{
		ID: id.New("sp_key"), State: state, KeySealed: s.Sealer.Seal(pemKey, spKeyAAD(connID)),
		CertificatePEM: ssosaml.CertificatePEM(cert), CreatedAt: now,
	}
	if state == store.SPKeyActive {
		k.ActivatedAt = now
	}
	s.SPKeyCache.put(connID, k.KeySealed, parsedSPKey{key: key, cert: cert})
	return k, nil
}

// ensureSPKeys gives a connection that signs requests or decrypts
// assertions an active and a next key (keeping the ones it has).
func (s *Service) ensureSPKeys(c *store.Connection) error {
	set := slices.Clone(spKeySet(*c))
	changed := len(c.SAML.SPKeys) == 0 && len(set) > 0
	for _, state := range []string{store.SPKeyActive, store.SPKeyNext} {
		if keyIndex(set, state) >= 0 {
			continue
		}
		k, err := s.newSPKey(c.ID, state, s.now())
		if err != nil {
			return err
		}
		set, changed = append(set, k), true
	}
	if changed {
		setSPKeys(c, set)
	}
	return nil
}

// rotate promotes c's next key to active, retires the active one (it still
// decrypts for the grace period), makes a new next key and drops retired
// keys whose grace has ended. A connection without a next key (made before
// key sets) gets one promoted at once.
func (s *Service) rotate(c *store.Connection, now time.Time) (retired *store.SPKey, err error) {
	grace := s.spKeyGrace()
	var set []store.SPKey
	for _, k := range spKeySet(*c) {
		if k.State == store.SPKeyRetired && !now.Before(k.RetiredAt.Add(grace)) {
			continue
		}
		set = append(set, k)
	}
	ni := keyIndex(set, store.SPKeyNext)
	if ni < 0 {
		k, err := s.newSPKey(c.ID, store.SPKeyNext, now)
		if err != nil {
			return nil, err
		}
		set, ni = append(set, k), len(set)
	}
	if ai := keyIndex(set, store.SPKeyActive); ai >= 0 {
		set[ai].State, set[ai].RetiredAt = store.SPKeyRetired, now
		r := set[ai]
		retired = &r
	}
	set[ni].State, set[ni].ActivatedAt = store.SPKeyActive, now
	k, err := s.newSPKey(c.ID, store.SPKeyNext, now)
	if err != nil {
		return nil, err
	}
	set = append(set, k)
	// Keep the newest retired keys only.
	var n int
	for i := len(set) - 1; i >= 0; i-- {
		if set[i].State == store.SPKeyRetired {
			if n++; n > maxRetiredSPKeys {
				set = slices.Delete(set, i, i+1)
			}
		}
	}
	setSPKeys(c, set)
	return retired, nil
}

// RotateSPKeys promotes a SAML connection's next SP key to active now
// (POST /connections/{id}/sp_keys/rotate).
func (s *Service) RotateSPKeys(ctx context.Context, connID string) (Connection, error) {
	out, _, err := s.rotateSPKeys(ctx, connID, "manual", nil)
	return out, err
}

// RotateDueSPKeys promotes the next SP key of every connection whose
// active key is older than the key lifetime. Each promotion is a
// compare-and-set on the connection, so of several nodes one rotates.
func (s *Service) RotateDueSPKeys(ctx context.Context) error {
	lifetime := s.spKeyLifetime()
	due := func(c store.Connection, now time.Time) bool {
		set := spKeySet(c)
		ai := keyIndex(set, store.SPKeyActive)
		return ai >= 0 && !now.Before(set[ai].ActivatedAt.Add(lifetime))
	}
	page := store.Page{Limit: 100, Order: store.Asc}
	for {
		conns, info, err := s.Store.ListConnections(ctx, store.ConnectionFilter{}, page)
		if err != nil {
			return fmt.Errorf("list connections: %w", err)
		}
		for _, c := range conns {
			if c.Protocol != store.ProtocolSAML || !due(c, s.now()) {
				continue
			}
			if _, _, err := s.rotateSPKeys(ctx, c.ID, "scheduled", due); err != nil {
				s.Log.Error("rotate sp keys", "connection_id", c.ID, "err", err)
			}
		}
		if info.After == "" {
			return nil
		}
		page.After = info.After
	}
}

// rotateSPKeys rotates connID's keys if due (nil = always), re-reading
// and retrying when another writer changed the connection meanwhile.
func (s *Service) rotateSPKeys(ctx context.Context, connID, reason string, due func(store.Connection, time.Time) bool) (Connection, bool, error) {
	for range 3 {
		cur, err := s.Get(ctx, connID)
		if err != nil {
			return Connection{}, false, err
		}
		c := cur.Connection
		if c.Protocol != store.ProtocolSAML {
			return Connection{}, false, errs.BadRequest("not_saml", "Only SAML connections have SP keys.")
		}
		if len(spKeySet(c)) == 0 {
			return Connection{}, false, errs.BadRequest("no_sp_keys",
				"The connection has no SP keys: they are made when saml.sign_requests or saml.encrypt_assertions is turned on.")
		}
		now := s.now()
		if due != nil && !due(c, now) {
			return cur, false, nil
		}
		prev := c.UpdatedAt
		retired, err := s.rotate(&c, now)
		if err != nil {
			return Connection{}, false, err
		}
		c.UpdatedAt = after(prev, now)
		var out Connection
		won := false
		err = s.Store.InTx(ctx, func(q store.Queries) error {
			ok, err := q.UpdateConnectionIf(ctx, c, prev)
			if won = ok; err != nil || !ok {
				return err
			}
			if out, err = s.get(ctx, q, connID); err != nil {
				return err
			}
			ev := spKeyRotated{Connection: certEventConn{ID: c.ID, OrganizationID: c.OrganizationID}, Reason: reason}
			set := spKeySet(c)
			ev.ActiveKey = s.spKeyJSON(set[keyIndex(set, store.SPKeyActive)])
			ev.NextKey = s.spKeyJSON(set[keyIndex(set, store.SPKeyNext)])
			if retired != nil {
				r := s.spKeyJSON(*retired)
				ev.RetiredKey = &r
			}
			return events.Append(ctx, q, EventSPKeyRotated, c.OrganizationID, ev)
		})
		if err != nil {
			return Connection{}, false, err
		}
		if won {
			return out, true, nil
		}
	}
	return Connection{}, false, errs.Conflict("concurrent_update", "The connection changed while its SP keys were rotating; try again.")
}

// spKeyRotated is the data of connection.sp_key_rotated.
type spKeyRotated struct {
	Connection certEventConn `json:"connection"`
	// Reason is "manual" (the API) or "scheduled" (the key lifetime).
	Reason     string     `json:"reason"`
	ActiveKey  SPKeyJSON  `json:"active_key"`
	NextKey    SPKeyJSON  `json:"next_key"`
	RetiredKey *SPKeyJSON `json:"retired_key,omitempty"`
}

// SPKeyJSON shows one of a connection's own SP keys; the private key is
// never shown.
type SPKeyJSON struct {
	Object      string  `json:"object"`
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Fingerprint string  `json:"fingerprint,omitempty"`
	Certificate string  `json:"certificate"`
	NotAfter    *string `json:"not_after,omitempty"`
	CreatedAt   string  `json:"created_at"`
	ActivatedAt *string `json:"activated_at,omitempty"`
	RetiredAt   *string `json:"retired_at,omitempty"`
	// DecryptsUntil is when a retired key stops decrypting.
	DecryptsUntil *string `json:"decrypts_until,omitempty"`
}

func (s *Service) spKeyJSON(k store.SPKey) SPKeyJSON {
	j := SPKeyJSON{Object: "sp_key", ID: k.ID, State: k.State, Certificate: k.CertificatePEM, CreatedAt: wire.Time(k.CreatedAt),
		ActivatedAt: wire.TimePtr(k.ActivatedAt), RetiredAt: wire.TimePtr(k.RetiredAt)}
	if x, err := ssosaml.ParseCertificatePEM(k.CertificatePEM); err == nil {
		j.Fingerprint, j.NotAfter = ssosaml.Fingerprint(x), wire.TimePtr(x.NotAfter)
	}
	if k.State == store.SPKeyRetired {
		j.DecryptsUntil = wire.TimePtr(k.RetiredAt.Add(s.spKeyGrace()))
	}
	return j
}

// spKeysJSON renders a connection's SP keys and its active certificate.
func (s *Service) spKeysJSON(c store.Connection) (keys []SPKeyJSON, activeCert string) {
	for _, k := range spKeySet(c) {
		keys = append(keys, s.spKeyJSON(k))
		if k.State == store.SPKeyActive {
			activeCert = k.CertificatePEM
		}
	}
	return keys, activeCert
}

// loadedSPKeys are a connection's SP keys, opened and parsed.
type loadedSPKeys struct {
	key     *rsa.PrivateKey // active: signs requests, decrypts first
	cert    *x509.Certificate
	decrypt []*rsa.PrivateKey // next, then retired keys in their grace
	next    *x509.Certificate // published beside cert
}

// loadSPKeys opens the keys of c that are in use at now.
func (s *Service) loadSPKeys(c store.Connection, now time.Time) (loadedSPKeys, error) {
	var out loadedSPKeys
	set := slices.Clone(spKeySet(c))
	// Newest retired keys first: they are the likelier ones.
	slices.SortStableFunc(set, func(a, b store.SPKey) int { return b.RetiredAt.Compare(a.RetiredAt) })
	for _, state := range []string{store.SPKeyActive, store.SPKeyNext, store.SPKeyRetired} {
		for _, k := range set {
			if k.State != state || (state == store.SPKeyRetired && !now.Before(k.RetiredAt.Add(s.spKeyGrace()))) {
				continue
			}
			p, err := s.parseSPKey(c.ID, k)
			if err != nil {
				return loadedSPKeys{}, err
			}
			switch state {
			case store.SPKeyActive:
				out.key, out.cert = p.key, p.cert
			case store.SPKeyNext:
				out.next = p.cert
				out.decrypt = append(out.decrypt, p.key)
			default:
				out.decrypt = append(out.decrypt, p.key)
			}
		}
	}
	return out, nil
}

type parsedSPKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func (s *Service) parseSPKey(connID string, k store.SPKey) (parsedSPKey, error) {
	if p, ok := s.SPKeyCache.get(connID, k.KeySealed); ok {
		return p, nil
	}
	pemKey, err := s.Sealer.Open(k.KeySealed, spKeyAAD(connID))
	if err != nil {
		return parsedSPKey{}, fmt.Errorf("open sp key %s: %w", k.ID, err)
	}
	key, err := ssosaml.ParseKey(pemKey)
	if err != nil {
		return parsedSPKey{}, fmt.Errorf("sp key %s: %w", k.ID, err)
	}
	cert, err := ssosaml.ParseCertificatePEM(k.CertificatePEM)
	if err != nil {
		return parsedSPKey{}, fmt.Errorf("sp certificate %s: %w", k.ID, err)
	}
	p := parsedSPKey{key: key, cert: cert}
	s.SPKeyCache.put(connID, k.KeySealed, p)
	return p, nil
}

// SPKeyCache keeps opened and parsed SP keys so a login does not unseal
// and parse them. Entries are keyed by connection and sealed value, so a
// rotated or re-sealed key is simply a new entry. The zero value is ready;
// a nil cache caches nothing.
type SPKeyCache struct {
	mu sync.Mutex
	m  map[spKeyCacheKey]parsedSPKey
}

type spKeyCacheKey struct{ connID, sealed string }

func (c *SPKeyCache) get(connID, sealed string) (parsedSPKey, bool) {
	if c == nil {
		return parsedSPKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[spKeyCacheKey{connID, sealed}]
	return p, ok
}

func (c *SPKeyCache) put(connID, sealed string, p parsedSPKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= spKeyCacheSize {
		// Bounded: start over rather than track use; a miss costs one parse.
		c.m = map[spKeyCacheKey]parsedSPKey{}
	}
	c.m[spKeyCacheKey{connID, sealed}] = p
}
