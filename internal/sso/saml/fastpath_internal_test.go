package saml

import (
	"crypto/x509"
	"encoding/base64"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// The fast path's own tests. Every test that shows the fast path accepting
// something also shows crewjam accepting it with the same assertion.

const (
	tSPEntity = "https://gatehouse.example/sso/saml/conn_1/metadata"
	tSPACS    = "https://gatehouse.example/sso/saml/conn_1/acs"
)

// acceptAll is a replay cache that records nothing (differential runs
// validate one response many times).
type acceptAll struct{}

func (acceptAll) Consume(string, time.Time) error { return nil }

// memCache refuses an ID it has seen.
type memCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memCache) Consume(id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[id]; ok {
		return saml.ErrAssertionReplayed
	}
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	m.seen[id] = until
	return nil
}

type testIdP struct {
	idp *testidp.SAMLIdP
	now time.Time
}

func newTestIdP(t testing.TB) *testIdP {
	t.Helper()
	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: "https://idp.example/saml"})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.AddServiceProvider(tSPEntity, tSPACS); err != nil {
		t.Fatal(err)
	}
	return &testIdP{idp: idp, now: time.Now().UTC().Truncate(time.Second)}
}

// sp is the ServiceProvider the ACS builds, with a clock at the IdP's now.
func (p *testIdP) sp(t testing.TB, cache saml.AssertionReplayCache, idpInitiated bool) *saml.ServiceProvider {
	t.Helper()
	sp, err := NewServiceProvider(Config{EntityID: tSPEntity, ACSURL: tSPACS, MetadataURL: tSPEntity,
		IdPEntityID: p.idp.EntityID(), IdPSSOURL: p.idp.SSOURL(), Certificates: []*x509.Certificate{p.idp.KeyPair().Certificate},
		AllowIdPInitiated: idpInitiated, ReplayCache: cache, Clock: dsig.NewFakeClockAt(p.now)})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func (p *testIdP) response(t testing.TB, o testidp.ResponseOptions) []byte {
	t.Helper()
	if o.ServiceProvider == "" {
		o.ServiceProvider = tSPEntity
	}
	if o.User.Email == "" {
		o.User = testidp.User{Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell", Groups: []string{"admins", "staff"}}
	}
	if o.Now.IsZero() {
		o.Now = p.now
	}
	enc, err := p.idp.Response(o)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// projection is what the differential tests compare: what Gatehouse reads
// from an assertion, and what its conditions were.
type projection struct {
	ID, NameID, NameIDFormat, Issuer string
	Attributes                       map[string][]string
	AttributeTypes                   [][]string
	IssueInstant                     time.Time
	Until                            time.Time
	SessionIndex                     string
}

func project(a *saml.Assertion) projection {
	p := projection{ID: a.ID, NameID: NameID(a), Attributes: Attributes(a), Issuer: a.Issuer.Value, IssueInstant: a.IssueInstant,
		Until: acceptableUntil(a)}
	if a.Subject != nil && a.Subject.NameID != nil {
		p.NameIDFormat = a.Subject.NameID.Format
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			var ty []string
			for _, v := range at.Values {
				ty = append(ty, at.Name+"|"+at.NameFormat+"|"+v.Type)
			}
			p.AttributeTypes = append(p.AttributeTypes, ty)
		}
	}
	if len(a.AuthnStatements) > 0 {
		p.SessionIndex = a.AuthnStatements[0].SessionIndex
	}
	return p
}

// differential validates raw with the fast path alone and, if it accepts,
// with crewjam alone, and fails the test if they disagree. It reports
// whether the fast path accepted.
func differential(t testing.TB, v *Validator, sp *saml.ServiceProvider, raw []byte, ids []string) bool {
	t.Helper()
	fast := v.fastValidate(sp, raw, ids)
	if fast == nil {
		return false
	}
	slow, err := ValidateResponse(sp, raw, ids, false)
	if err != nil {
		t.Fatalf("the fast path accepted what crewjam refuses (%v):\n%s", err, raw)
	}
	if pf, ps := project(fast), project(slow); !reflect.DeepEqual(pf, ps) {
		t.Fatalf("the fast path read\n%+v\ncrewjam read\n%+v\nfrom\n%s", pf, ps, raw)
	}
	return true
}

func TestFastPathAcceptsWhatCrewjamAccepts(t *testing.T) {
	p := newTestIdP(t)
	v := &Validator{}
	cases := []struct {
		name  string
		opts  testidp.ResponseOptions
		ids   []string
		idpOK bool
	}{
		{name: "both signed, IdP-initiated", idpOK: true},
		{name: "response signed", opts: testidp.ResponseOptions{Signing: testidp.SignResponse}, idpOK: true},
		{name: "assertion signed", opts: testidp.ResponseOptions{Signing: testidp.SignAssertion}, idpOK: true},
		{name: "no KeyInfo", opts: testidp.ResponseOptions{OmitKeyInfo: true}, idpOK: true},
		{name: "SP-initiated", opts: testidp.ResponseOptions{InResponseTo: "id-req-1"}, ids: []string{"id-req-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := p.response(t, c.opts)
			sp := p.sp(t, acceptAll{}, c.idpOK)
			if !differential(t, v, sp, raw, c.ids) {
				t.Fatalf("the fast path does not accept a plain response:\n%s", raw)
			}
		})
	}
}
