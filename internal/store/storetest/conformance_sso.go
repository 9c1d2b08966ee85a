package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ssoTests check SSO connections, their certificates and the state of
// logins in flight.
var ssoTests = []suiteTest{
	{"connections round trip", testConnections},
	{"connections list filters and pages", testListConnections},
	{"connections of an organization", testConnectionsForOrganization},
	{"due metadata refreshes are claimed once", testClaimDueMetadataRefresh},
	{"certificates round trip", testCertificates},
	{"certificate retirement", testCertificateRetirement},
	{"connection compare-and-set", testConnectionCompareAndSet},
	{"certificates expiring before a time", testCertificatesExpiring},
	{"certificate notices are marked once", testMarkCertificateNotified},
	{"certificate last verification moves forward", testMarkCertificateVerified},
	{"deleting a connection or its organization removes its certificates", testConnectionCascade},
	{"sso requests are taken once", testSSORequests},
	{"expired sso requests are taken once", testExpiredSSORequests},
	{"sso codes are taken once", testSSOCodes},
	{"sso tokens are read until swept", testSSOTokens},
	{"replay keys are consumed once", testReplayKeys},
	{"redirect uris", testRedirectURIs},
}

func newSAMLConnection(orgID, name string) store.Connection {
	now := now()
	return store.Connection{ID: id.New("conn"), OrganizationID: orgID, Type: "OktaSAML", Name: name, State: store.ConnectionDraft,
		Protocol: store.ProtocolSAML, SAML: store.SAMLConfig{IdPEntityID: "https://idp.example/" + name, AllowIdPInitiated: true},
		CreatedAt: now, UpdatedAt: now}
}

// mkConnection stores a new SAML connection.
func mkConnection(t *testing.T, s store.Queries, orgID, name string) store.Connection {
	t.Helper()
	c := newSAMLConnection(orgID, name)
	mustNil(t, s.CreateConnection(ctx, c))
	return c
}

func connIDs(cs []store.Connection) []string {
	return ids(cs, func(c store.Connection) string { return c.ID })
}

func testConnections(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	t0 := now()
	saml := newSAMLConnection(o.ID, "Okta")
	saml.State = store.ConnectionActive
	saml.SAML = store.SAMLConfig{IdPEntityID: "https://idp.example", IdPSSOURL: "https://idp.example/sso", IdPSSOBinding: "post",
		IdPMetadataURL: "https://idp.example/md", IdPMetadataXML: "<md/>", MetadataFetchedAt: t0, MetadataError: "timeout",
		AllowIdPInitiated: false, SignRequests: true, EncryptAssertions: true, SPKeySealed: "sealed", SPCertificatePEM: "pem",
		AllowSHA1: true, DefaultRedirectURI: "https://app.example/cb", AttributeMap: map[string]string{"email": "mail"}}
	saml.NextRefreshAt, saml.CreatedAt, saml.UpdatedAt = oddTime(t0.Add(time.Hour)), oddTime(t0), oddTime(t0)
	mustNil(t, s.CreateConnection(ctx, saml))
	got, err := s.GetConnection(ctx, saml.ID)
	mustNil(t, err)
	want := saml
	want.NextRefreshAt, want.CreatedAt, want.UpdatedAt = ms(saml.NextRefreshAt), ms(saml.CreatedAt), ms(saml.UpdatedAt)
	equal(t, "SAML round trip", got, want)

	oidc := newSAMLConnection(o.ID, "Entra")
	oidc.Type, oidc.Protocol, oidc.SAML = "GenericOIDC", store.ProtocolOIDC, store.SAMLConfig{}
	oidc.OIDC = store.OIDCConfig{Issuer: "https://op.example", ClientID: "cid", ClientSecretSealed: "sealed",
		Scopes: []string{"openid", "email"}, DiscoveredAt: t0, DiscoveryError: "bad"}
	mustNil(t, s.CreateConnection(ctx, oidc))
	got, err = s.GetConnection(ctx, oidc.ID)
	mustNil(t, err)
	equal(t, "OIDC round trip (no refresh scheduled)", got, oidc)

	wantErr(t, "same id again", s.CreateConnection(ctx, saml), store.ErrConflict)

	// Update writes every mutable field; the organization and creation
	// time stay.
	upd := saml
	upd.OrganizationID, upd.CreatedAt = "org_other", t0.Add(time.Hour)
	upd.Type, upd.Name, upd.State = "ADFSSAML", "ADFS", store.ConnectionInactive
	upd.SAML = store.SAMLConfig{IdPEntityID: "https://adfs.example", AllowIdPInitiated: true}
	upd.NextRefreshAt, upd.UpdatedAt = time.Time{}, t0.Add(time.Minute)
	mustNil(t, s.UpdateConnection(ctx, upd))
	got, _ = s.GetConnection(ctx, saml.ID)
	want = upd
	want.OrganizationID, want.CreatedAt = saml.OrganizationID, ms(saml.CreatedAt)
	equal(t, "after update", got, want)

	ghost := newSAMLConnection(o.ID, "ghost")
	wantErr(t, "update of a missing connection", s.UpdateConnection(ctx, ghost), store.ErrNotFound)
	_, err = s.GetConnection(ctx, ghost.ID)
	wantErr(t, "missing connection", err, store.ErrNotFound)
	mustNil(t, s.DeleteConnection(ctx, saml.ID))
	_, err = s.GetConnection(ctx, saml.ID)
	wantErr(t, "deleted connection", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteConnection(ctx, saml.ID), store.ErrNotFound)
}

func testListConnections(t *testing.T, s store.Store) {
	a, b := mkOrg(t, s, "A"), mkOrg(t, s, "B")
	mustNil(t, s.CreateDomain(ctx, newDomain(a.ID, "a.example", store.DomainVerified)))
	var all []string
	for i := range 5 {
		all = append(all, mkConnection(t, s, a.ID, fmt.Sprintf("Conn %d", i)).ID)
	}
	oidc := newSAMLConnection(b.ID, "100% OIDC")
	oidc.Type, oidc.Protocol = "GenericOIDC", store.ProtocolOIDC
	mustNil(t, s.CreateConnection(ctx, oidc))
	list := func(f store.ConnectionFilter) []string {
		cs, _, err := s.ListConnections(ctx, f, store.Page{Limit: 10, Order: store.Asc})
		mustNil(t, err)
		return connIDs(cs)
	}
	cases := []struct {
		name string
		f    store.ConnectionFilter
		want []string
	}{
		{"all", store.ConnectionFilter{}, append(slices.Clone(all), oidc.ID)},
		{"by organization", store.ConnectionFilter{OrganizationID: b.ID}, []string{oidc.ID}},
		{"by type", store.ConnectionFilter{Type: "GenericOIDC"}, []string{oidc.ID}},
		{"by domain of the organization", store.ConnectionFilter{Domain: "A.example"}, all},
		{"by unknown domain", store.ConnectionFilter{Domain: "b.example"}, []string{}},
		{"search ignores case", store.ConnectionFilter{Search: "CONN 3"}, []string{all[3]}},
		{"search for a literal %", store.ConnectionFilter{Search: "0%"}, []string{oidc.ID}},
		{"filters combine", store.ConnectionFilter{OrganizationID: a.ID, Type: "GenericOIDC"}, []string{}},
	}
	for _, tc := range cases {
		equal(t, tc.name, list(tc.f), tc.want)
	}
	checkPages(t, "connections", all, func(p store.Page) ([]string, store.PageInfo, error) {
		cs, info, err := s.ListConnections(ctx, store.ConnectionFilter{OrganizationID: a.ID}, p)
		return connIDs(cs), info, err
	})
}

func testConnectionsForOrganization(t *testing.T, s store.Store) {
	a, b := mkOrg(t, s, "A"), mkOrg(t, s, "B")
	a1 := mkConnection(t, s, a.ID, "1")
	mkConnection(t, s, b.ID, "other")
	a2 := mkConnection(t, s, a.ID, "2")
	cs, err := s.ConnectionsForOrganization(ctx, a.ID)
	mustNil(t, err)
	equal(t, "oldest first, own only", connIDs(cs), []string{a1.ID, a2.ID})
	if cs[0].SAML.IdPEntityID != a1.SAML.IdPEntityID {
		t.Errorf("config not read: %+v", cs[0])
	}
	cs, err = s.ConnectionsForOrganization(ctx, "org_unknown")
	mustNil(t, err)
	if len(cs) != 0 {
		t.Errorf("unknown organization has %d connections", len(cs))
	}
}

func testClaimDueMetadataRefresh(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	t0 := now()
	mk := func(name string, next time.Time) store.Connection {
		c := newSAMLConnection(o.ID, name)
		c.NextRefreshAt = next
		mustNil(t, s.CreateConnection(ctx, c))
		return c
	}
	due1, due2 := mk("due1", t0.Add(-2*time.Minute)), mk("due2", t0)
	mk("later", t0.Add(time.Minute))
	mk("never", time.Time{})
	checkClaim(t, due1.ID, due2.ID, t0.Add(time.Hour), func(limit int) ([]string, []time.Time, error) {
		cs, err := s.ClaimDueMetadataRefresh(ctx, t0, t0.Add(time.Hour), limit)
		return connIDs(cs), ids(cs, func(c store.Connection) time.Time { return c.NextRefreshAt }), err
	}, func(id string) time.Time { c, _ := s.GetConnection(ctx, id); return c.NextRefreshAt })
}

func newCert(connID, fp, source string, notAfter time.Time) store.Certificate {
	return store.Certificate{ConnectionID: connID, Fingerprint: fp, PEM: "pem-" + fp, NotBefore: notAfter.Add(-365 * 24 * time.Hour),
		NotAfter: notAfter, Source: source, CreatedAt: now(), RenewalNotified: -1}
}

func certFPs(cs []store.Certificate) []string {
	return ids(cs, func(c store.Certificate) string { return c.ConnectionID + "/" + c.Fingerprint })
}

func testCertificates(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	c, other := mkConnection(t, s, o.ID, "C"), mkConnection(t, s, o.ID, "other")
	t0 := now()
	manual := newCert(c.ID, "aa", "manual", oddTime(t0.Add(24*time.Hour)))
	manual.NotBefore, manual.CreatedAt = oddTime(manual.NotBefore), oddTime(t0)
	mustNil(t, s.PutCertificate(ctx, manual))
	md1, md2 := newCert(c.ID, "bb", "metadata", t0), newCert(c.ID, "cc", "metadata", t0)
	md1.CreatedAt, md2.CreatedAt = t0.Add(time.Second), t0.Add(2*time.Second)
	mustNil(t, s.PutCertificate(ctx, md2))
	mustNil(t, s.PutCertificate(ctx, md1))
	mustNil(t, s.PutCertificate(ctx, newCert(other.ID, "aa", "manual", t0)))

	got, err := s.ListCertificates(ctx, c.ID)
	mustNil(t, err)
	equal(t, "oldest first, this connection's only", certFPs(got), []string{c.ID + "/aa", c.ID + "/bb", c.ID + "/cc"})
	want := manual
	want.NotBefore, want.NotAfter, want.CreatedAt = ms(manual.NotBefore), ms(manual.NotAfter), ms(manual.CreatedAt)
	equal(t, "round trip", got[0], want)

	// Put again replaces the certificate's content.
	manual.PEM, manual.Source = "pem-2", "metadata"
	mustNil(t, s.PutCertificate(ctx, manual))
	got, _ = s.ListCertificates(ctx, c.ID)
	if len(got) != 3 || got[0].PEM != "pem-2" || got[0].Source != "metadata" {
		t.Errorf("after replace: %+v", got)
	}

	// A fingerprint is found only under its own connection.
	wantErr(t, "delete under another connection", s.DeleteCertificate(ctx, other.ID, "bb"), store.ErrNotFound)
	wantErr(t, "delete unknown", s.DeleteCertificate(ctx, c.ID, "zz"), store.ErrNotFound)
	mustNil(t, s.DeleteCertificate(ctx, c.ID, "bb"))
	got, _ = s.ListCertificates(ctx, c.ID)
	equal(t, "after delete", certFPs(got), []string{c.ID + "/aa", c.ID + "/cc"})

	// By source: this connection's metadata certificates only.
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "dd", "manual", t0)))
	mustNil(t, s.PutCertificate(ctx, newCert(other.ID, "ee", "metadata", t0)))
	mustNil(t, s.DeleteCertificatesBySource(ctx, c.ID, "metadata"))
	got, _ = s.ListCertificates(ctx, c.ID)
	equal(t, "after delete by source", certFPs(got), []string{c.ID + "/dd"})
	got, _ = s.ListCertificates(ctx, other.ID)
	equal(t, "other connection untouched", certFPs(got), []string{other.ID + "/aa", other.ID + "/ee"})
	mustNil(t, s.DeleteCertificatesBySource(ctx, c.ID, "metadata"))
	if got, _ := s.ListCertificates(ctx, "conn_unknown"); len(got) != 0 {
		t.Errorf("certificates of an unknown connection: %d", len(got))
	}
}

func testCertificatesExpiring(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	c1, c2 := mkConnection(t, s, o.ID, "1"), mkConnection(t, s, o.ID, "2")
	t0 := now()
	for _, cert := range []store.Certificate{
		newCert(c1.ID, "late", "manual", t0.Add(3*time.Hour)),
		newCert(c1.ID, "soon", "manual", t0.Add(time.Hour)),
		newCert(c2.ID, "sooner", "metadata", t0.Add(time.Minute)),
		newCert(c2.ID, "at", "metadata", t0.Add(2*time.Hour)),
	} {
		mustNil(t, s.PutCertificate(ctx, cert))
	}
	got, err := s.CertificatesExpiringBefore(ctx, t0.Add(2*time.Hour))
	mustNil(t, err)
	equal(t, "soonest first, every connection, strictly before", certFPs(got), []string{c2.ID + "/sooner", c1.ID + "/soon"})
	if got, _ := s.CertificatesExpiringBefore(ctx, t0); len(got) != 0 {
		t.Errorf("expiring before now: %d", len(got))
	}
}

// testMarkCertificateNotified: each renewal notice threshold is marked
// once, a larger threshold after a smaller one is not, and of racing nodes
// one wins.
func testMarkCertificateNotified(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	c, other := mkConnection(t, s, o.ID, "C"), mkConnection(t, s, o.ID, "other")
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "aa", "manual", now())))
	mustNil(t, s.PutCertificate(ctx, newCert(other.ID, "bb", "manual", now())))
	steps := []struct {
		name      string
		threshold int
		want      bool
	}{
		{"first notice", 30, true},
		{"same threshold again", 30, false},
		{"a larger threshold after a smaller one", 60, false},
		{"a smaller threshold", 7, true},
		{"zero days", 0, true},
	}
	for _, st := range steps {
		ok, err := s.MarkCertificateNotified(ctx, c.ID, "aa", st.threshold)
		mustNil(t, err)
		if ok != st.want {
			t.Errorf("%s: marked = %v, want %v", st.name, ok, st.want)
		}
	}
	if got, _ := s.ListCertificates(ctx, c.ID); len(got) != 1 || got[0].RenewalNotified != 0 {
		t.Errorf("stored threshold: %+v", got)
	}
	ok, err := s.MarkCertificateNotified(ctx, c.ID, "bb", 30)
	mustNil(t, err)
	if ok {
		t.Error("marked another connection's certificate")
	}
	if wins := race(t, 4, func() (bool, error) { return s.MarkCertificateNotified(ctx, other.ID, "bb", 14) }); wins != 1 {
		t.Errorf("%d nodes marked the notice, want 1", wins)
	}
}

func testMarkCertificateVerified(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	c, other := mkConnection(t, s, o.ID, "C"), mkConnection(t, s, o.ID, "other")
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "aa", "manual", now().Add(time.Hour))))
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "bb", "manual", now().Add(time.Hour))))
	mustNil(t, s.PutCertificate(ctx, newCert(other.ID, "cc", "manual", now().Add(time.Hour))))
	if got, _ := s.ListCertificates(ctx, c.ID); len(got) != 2 || !got[0].LastVerifiedAt.IsZero() {
		t.Fatalf("a new certificate has verified a sign-in: %+v", got)
	}
	t0 := oddTime(now())
	steps := []struct {
		name     string
		conn, fp string
		at       time.Time
		want     bool
	}{
		{"first sign-in", c.ID, "aa", t0, true},
		{"the same time again", c.ID, "aa", t0, false},
		{"an earlier time (a slower node)", c.ID, "aa", t0.Add(-time.Minute), false},
		{"a later sign-in", c.ID, "aa", t0.Add(2 * time.Minute), true},
		{"another connection's certificate", c.ID, "cc", t0, false},
		{"an unknown certificate", c.ID, "zz", t0, false},
	}
	for _, st := range steps {
		ok, err := s.MarkCertificateVerified(ctx, st.conn, st.fp, st.at)
		mustNil(t, err)
		if ok != st.want {
			t.Errorf("%s: wrote = %v, want %v", st.name, ok, st.want)
		}
	}
	got, _ := s.ListCertificates(ctx, c.ID)
	equal(t, "recorded time", got[0].LastVerifiedAt, ms(t0.Add(2*time.Minute)))
	if !got[1].LastVerifiedAt.IsZero() {
		t.Errorf("the other certificate of the connection was marked: %v", got[1].LastVerifiedAt)
	}
	// Putting the certificate again (a metadata refresh) keeps the time.
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "aa", "metadata", now().Add(time.Hour))))
	got, _ = s.ListCertificates(ctx, c.ID)
	equal(t, "after a put", got[0].LastVerifiedAt, ms(t0.Add(2*time.Minute)))
	if other, _ := s.ListCertificates(ctx, other.ID); !other[0].LastVerifiedAt.IsZero() {
		t.Errorf("another connection's certificate was marked: %v", other[0].LastVerifiedAt)
	}
	// Inside a transaction, as the ACS records it.
	mustNil(t, s.InTx(ctx, func(q store.Queries) error {
		_, err := q.MarkCertificateVerified(ctx, c.ID, "bb", t0)
		return err
	}))
	got, _ = s.ListCertificates(ctx, c.ID)
	equal(t, "recorded in a transaction", got[1].LastVerifiedAt, ms(t0))
}

func testConnectionCascade(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	c, kept := mkConnection(t, s, o.ID, "C"), mkConnection(t, s, o.ID, "kept")
	mustNil(t, s.PutCertificate(ctx, newCert(c.ID, "aa", "manual", now())))
	mustNil(t, s.PutCertificate(ctx, newCert(kept.ID, "aa", "manual", now())))
	mustNil(t, s.DeleteConnection(ctx, c.ID))
	if cs, _ := s.ListCertificates(ctx, c.ID); len(cs) != 0 {
		t.Error("certificates outlived their connection")
	}
	if cs, _ := s.CertificatesExpiringBefore(ctx, now().Add(time.Hour)); len(cs) != 1 {
		t.Errorf("certificates left: %d, want 1", len(cs))
	}
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	_, err := s.GetConnection(ctx, kept.ID)
	wantErr(t, "connection of a deleted organization", err, store.ErrNotFound)
	if cs, _ := s.CertificatesExpiringBefore(ctx, now().Add(time.Hour)); len(cs) != 0 {
		t.Errorf("certificates outlived their organization: %d", len(cs))
	}
}

func newSSORequest(expires time.Time) store.SSORequest {
	return store.SSORequest{ID: "_" + id.New("req"), ConnectionID: "conn_1", OrganizationID: "org_1", RedirectURI: "https://app.example/cb",
		CreatedAt: now(), ExpiresAt: expires}
}

func testSSORequests(t *testing.T, s store.Store) {
	t0 := now()
	r := store.SSORequest{ID: "_" + id.New("req"), ConnectionID: "conn_1", OrganizationID: "org_1", RedirectURI: "https://app.example/cb",
		State: "st", Nonce: "n", CodeVerifier: "v", CodeChallenge: "ch", CodeChallengeMethod: "S256", IPAddress: "192.0.2.1",
		UserAgent: "UA/1", CreatedAt: oddTime(t0), ExpiresAt: oddTime(t0.Add(10 * time.Minute))}
	mustNil(t, s.CreateSSORequest(ctx, r))
	wantErr(t, "same id again", s.CreateSSORequest(ctx, r), store.ErrConflict)
	want := r
	want.CreatedAt, want.ExpiresAt = ms(r.CreatedAt), ms(r.ExpiresAt)
	for range 2 { // reading does not take it
		got, err := s.GetSSORequest(ctx, r.ID)
		mustNil(t, err)
		equal(t, "read", got, want)
	}
	got, err := s.TakeSSORequest(ctx, r.ID)
	mustNil(t, err)
	equal(t, "round trip", got, want)
	_, err = s.TakeSSORequest(ctx, r.ID)
	wantErr(t, "second take", err, store.ErrNotFound)
	_, err = s.GetSSORequest(ctx, r.ID)
	wantErr(t, "read after take", err, store.ErrNotFound)
	_, err = s.GetSSORequest(ctx, "_unknown")
	wantErr(t, "read unknown", err, store.ErrNotFound)
	_, err = s.TakeSSORequest(ctx, "_unknown")
	wantErr(t, "unknown request", err, store.ErrNotFound)

	r2 := newSSORequest(t0.Add(time.Minute))
	mustNil(t, s.CreateSSORequest(ctx, r2))
	if wins := race(t, 6, func() (bool, error) {
		_, err := s.TakeSSORequest(ctx, r2.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}); wins != 1 {
		t.Errorf("request taken %d times", wins)
	}
}

func testExpiredSSORequests(t *testing.T, s store.Store) {
	t0 := now()
	oldest, old, at := newSSORequest(t0.Add(-time.Hour)), newSSORequest(t0.Add(-time.Minute)), newSSORequest(t0)
	live := newSSORequest(t0.Add(time.Minute))
	for _, r := range []store.SSORequest{old, live, at, oldest} {
		mustNil(t, s.CreateSSORequest(ctx, r))
	}
	reqIDs := func(rs []store.SSORequest) []string { return ids(rs, func(r store.SSORequest) string { return r.ID }) }
	got, err := s.TakeExpiredSSORequests(ctx, t0, 1)
	mustNil(t, err)
	equal(t, "limit takes the longest expired", reqIDs(got), []string{oldest.ID})
	if len(got) == 1 && (got[0].RedirectURI != oldest.RedirectURI || !got[0].ExpiresAt.Equal(oldest.ExpiresAt)) {
		t.Errorf("taken request: %+v", got[0])
	}
	var mu sync.Mutex
	var taken []string
	race(t, 4, func() (bool, error) {
		rs, err := s.TakeExpiredSSORequests(ctx, t0, 10)
		mu.Lock()
		taken = append(taken, reqIDs(rs)...)
		mu.Unlock()
		return false, err
	})
	equal(t, "each expired request taken once; one expiring now is not expired", taken, []string{old.ID})
	for _, r := range []store.SSORequest{at, live} {
		if _, err := s.TakeSSORequest(ctx, r.ID); err != nil {
			t.Errorf("unexpired request %s: %v", r.ID, err)
		}
	}
}

func newGrant(hash string, expires time.Time) store.SSOGrant {
	return store.SSOGrant{Hash: []byte(hash), ConnectionID: "conn_1", OrganizationID: "org_1", Profile: []byte(`{"email":"a@example.com"}`),
		RedirectURI: "https://app.example/cb", CodeChallenge: "ch", CodeChallengeMethod: "S256", ExpiresAt: expires}
}

func testSSOCodes(t *testing.T, s store.Store) {
	t0 := now()
	g := newGrant("code-1", oddTime(t0.Add(time.Minute)))
	mustNil(t, s.CreateSSOCode(ctx, g))
	wantErr(t, "same code again", s.CreateSSOCode(ctx, g), store.ErrConflict)
	got, err := s.TakeSSOCode(ctx, g.Hash)
	mustNil(t, err)
	want := g
	want.ExpiresAt = ms(g.ExpiresAt)
	equal(t, "round trip", got, want)
	_, err = s.TakeSSOCode(ctx, g.Hash)
	wantErr(t, "second take", err, store.ErrNotFound)
	// Codes and tokens are separate: a token's hash is no code.
	mustNil(t, s.CreateSSOToken(ctx, newGrant("token-1", t0.Add(time.Minute))))
	_, err = s.TakeSSOCode(ctx, []byte("token-1"))
	wantErr(t, "a token taken as a code", err, store.ErrNotFound)

	g2 := newGrant("code-2", t0.Add(time.Minute))
	mustNil(t, s.CreateSSOCode(ctx, g2))
	if wins := race(t, 8, func() (bool, error) {
		_, err := s.TakeSSOCode(ctx, g2.Hash)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}); wins != 1 {
		t.Errorf("code taken %d times", wins)
	}
}

// testSSOTokens: a token is read any number of times and swept, with
// codes and replay keys, once expired (DeleteExpiredSSO).
func testSSOTokens(t *testing.T, s store.Store) {
	t0 := now()
	g := newGrant("token-1", oddTime(t0.Add(time.Minute)))
	mustNil(t, s.CreateSSOToken(ctx, g))
	wantErr(t, "same token again", s.CreateSSOToken(ctx, g), store.ErrConflict)
	for range 2 {
		got, err := s.GetSSOToken(ctx, g.Hash)
		mustNil(t, err)
		want := g
		want.ExpiresAt = ms(g.ExpiresAt)
		equal(t, "round trip", got, want)
	}
	_, err := s.GetSSOToken(ctx, []byte("unknown"))
	wantErr(t, "unknown token", err, store.ErrNotFound)

	expired, atNow := newGrant("token-old", t0.Add(-time.Second)), newGrant("token-now", t0)
	mustNil(t, s.CreateSSOToken(ctx, expired))
	mustNil(t, s.CreateSSOToken(ctx, atNow))
	mustNil(t, s.CreateSSOCode(ctx, newGrant("code-old", t0.Add(-time.Second))))
	mustNil(t, s.CreateSSOCode(ctx, newGrant("code-now", t0)))
	mustNil(t, s.ConsumeReplayKey(ctx, "old", t0.Add(-time.Second)))
	mustNil(t, s.ConsumeReplayKey(ctx, "now", t0))
	req := newSSORequest(t0.Add(-time.Hour))
	mustNil(t, s.CreateSSORequest(ctx, req))
	mustNil(t, s.DeleteExpiredSSO(ctx, t0))
	_, err = s.GetSSOToken(ctx, expired.Hash)
	wantErr(t, "expired token", err, store.ErrNotFound)
	_, err = s.TakeSSOCode(ctx, []byte("code-old"))
	wantErr(t, "expired code", err, store.ErrNotFound)
	mustNil(t, s.ConsumeReplayKey(ctx, "old", t0.Add(time.Hour)))
	// Expiring at now is not expired yet.
	_, err = s.GetSSOToken(ctx, atNow.Hash)
	mustNil(t, err)
	_, err = s.TakeSSOCode(ctx, []byte("code-now"))
	mustNil(t, err)
	wantErr(t, "replay key expiring now", s.ConsumeReplayKey(ctx, "now", t0.Add(time.Hour)), store.ErrConflict)
	// Requests are left to TakeExpiredSSORequests, which reports them.
	if _, err := s.TakeSSORequest(ctx, req.ID); err != nil {
		t.Errorf("expired request swept: %v", err)
	}
}

func testReplayKeys(t *testing.T, s store.Store) {
	exp := now().Add(time.Minute)
	mustNil(t, s.ConsumeReplayKey(ctx, "conn_1:_a1", exp))
	wantErr(t, "second use", s.ConsumeReplayKey(ctx, "conn_1:_a1", exp), store.ErrConflict)
	mustNil(t, s.ConsumeReplayKey(ctx, "conn_2:_a1", exp))
	if wins := race(t, 8, func() (bool, error) {
		err := s.ConsumeReplayKey(ctx, "conn_1:_a2", exp)
		if errors.Is(err, store.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	}); wins != 1 {
		t.Errorf("replay key admitted %d times", wins)
	}
}

func testRedirectURIs(t *testing.T, s store.Store) {
	t0 := now()
	a := store.RedirectURI{ID: id.New("redirect_uri"), URI: "https://a.example/cb", Default: true, CreatedAt: oddTime(t0)}
	b := store.RedirectURI{ID: id.New("redirect_uri"), URI: "https://b.example/cb", CreatedAt: t0}
	mustNil(t, s.CreateRedirectURI(ctx, a))
	mustNil(t, s.CreateRedirectURI(ctx, b))
	got, err := s.ListRedirectURIs(ctx)
	mustNil(t, err)
	wantA := a
	wantA.CreatedAt = ms(a.CreatedAt)
	equal(t, "oldest first; a non-default one leaves the default", got, []store.RedirectURI{wantA, b})

	// A duplicate URI is refused and changes nothing, default included.
	dup := store.RedirectURI{ID: id.New("redirect_uri"), URI: a.URI, Default: true, CreatedAt: t0}
	wantErr(t, "duplicate uri", s.CreateRedirectURI(ctx, dup), store.ErrConflict)
	got, _ = s.ListRedirectURIs(ctx)
	equal(t, "after the refused duplicate", got, []store.RedirectURI{wantA, b})

	c := store.RedirectURI{ID: id.New("redirect_uri"), URI: "https://c.example/cb", Default: true, CreatedAt: t0}
	mustNil(t, s.CreateRedirectURI(ctx, c))
	got, _ = s.ListRedirectURIs(ctx)
	wantA.Default = false
	equal(t, "a new default replaces the old", got, []store.RedirectURI{wantA, b, c})

	mustNil(t, s.DeleteRedirectURI(ctx, b.ID))
	wantErr(t, "delete again", s.DeleteRedirectURI(ctx, b.ID), store.ErrNotFound)
	got, _ = s.ListRedirectURIs(ctx)
	equal(t, "after delete", got, []store.RedirectURI{wantA, c})
	// A deleted URI may be listed again.
	b.ID = id.New("redirect_uri")
	mustNil(t, s.CreateRedirectURI(ctx, b))
}
