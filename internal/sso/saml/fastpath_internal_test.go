package saml

import (
	"crypto/x509"
	"encoding/base64"
	"math/rand/v2"
	"reflect"
	"strings"
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

// mutate returns a random mutation of a response: byte edits, moved and
// copied spans, swapped names, namespaces and IDs, added declarations and
// white space. Some mutations leave the response valid (white space inside
// a tag, an unused namespace declaration).
func mutate(r *rand.Rand, s string) string {
	if s == "" {
		return s
	}
	pos := func() int { return r.IntN(len(s) + 1) }
	span := func() (int, int) {
		a := r.IntN(len(s))
		b := a + 1 + r.IntN(min(64, len(s)-a))
		return a, b
	}
	tags := func() []int { // offsets of start tags
		var out []int
		for i := 0; i+1 < len(s); i++ {
			if s[i] == '<' && s[i+1] != '/' && s[i+1] != '?' {
				out = append(out, i)
			}
		}
		return out
	}
	// elementAt returns the span of the element starting at offset a.
	elementAt := func(a int) (int, int) {
		d := &xdoc{}
		if d.readXML(s) != nil {
			return a, a
		}
		_ = d
		// find the matching end by scanning nesting depth
		depth := 0
		for i := a; i < len(s); i++ {
			if s[i] != '<' {
				continue
			}
			if strings.HasPrefix(s[i:], "</") {
				depth--
			} else if s[i+1] != '?' {
				end := strings.IndexByte(s[i:], '>')
				if end < 0 {
					return a, a
				}
				if s[i+end-1] != '/' {
					depth++
				}
			}
			if depth == 0 {
				end := strings.IndexByte(s[i:], '>')
				return a, i + end + 1
			}
		}
		return a, a
	}
	swaps := [][2]string{
		{"Response", "Assertion"}, {"saml:", "samlp:"}, {"samlp:", "saml:"}, {"ds:", "xs:"},
		{"urn:oasis:names:tc:SAML:2.0:assertion", "urn:oasis:names:tc:SAML:2.0:protocol"},
		{"ID=\"", "Id=\""}, {"xml-exc-c14n#", "REC-xml-c14n-20010315"}, {"sha256", "sha1"},
		{"Success", "Requester"}, {"bearer", "holder-of-key"}, {"Audience>", "Audience>x"},
		{"alice@example.com", "mallory@example.com"}, {"NameID", "BaseID"}, {"Signature", "Signatur"},
		{"Recipient=", "Recipients="}, {"InResponseTo", "InResponseTO"}, {"Destination=\"", "Destination=\"x"},
		{"Transform ", "Transform Id=\"x\" "}, {"2.0", "2.1"}, {"xsi:type", "xsi:nil"}, {"Z\"", "+01:00\""},
		{"Issuer>", "Issuer> "}, {"&", "&amp;"}, {"\n", ""}, {">", ">\n"},
	}
	switch r.IntN(12) {
	case 0:
		i := r.IntN(len(s))
		const chars = "<>&\"' =:/\n\tax_#;0Z"
		return s[:i] + string(chars[r.IntN(len(chars))]) + s[i+1:]
	case 1:
		a, b := span()
		return s[:a] + s[b:]
	case 2:
		a, b := span()
		c := pos()
		return s[:c] + s[a:b] + s[c:]
	case 3, 4:
		sw := swaps[r.IntN(len(swaps))]
		if r.IntN(2) == 0 {
			sw[0], sw[1] = sw[1], sw[0]
		}
		n := strings.Count(s, sw[0])
		if n == 0 {
			return s
		}
		k := r.IntN(n)
		i := 0
		for j := 0; j <= k; j++ {
			i += strings.Index(s[i:], sw[0])
			if j < k {
				i += len(sw[0])
			}
		}
		return s[:i] + sw[1] + s[i+len(sw[0]):]
	case 5, 6:
		// Copy or move a whole element somewhere else.
		ts := tags()
		if len(ts) == 0 {
			return s
		}
		a, b := elementAt(ts[r.IntN(len(ts))])
		el := s[a:b]
		to := ts[r.IntN(len(ts))]
		if r.IntN(2) == 0 { // move
			rest := s[:a] + s[b:]
			if to > a {
				to -= b - a
				if to < a {
					to = a
				}
			}
			return rest[:to] + el + rest[to:]
		}
		return s[:to] + el + s[to:]
	case 7:
		// White space or a namespace declaration inside a start tag.
		ts := tags()
		if len(ts) == 0 {
			return s
		}
		t := ts[r.IntN(len(ts))]
		end := strings.IndexAny(s[t:], " >/")
		if end < 0 {
			return s
		}
		end += t
		ins := []string{"  ", "\n", ` xmlns:unused="urn:x"`, ` xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`,
			` xmlns="urn:oasis:names:tc:SAML:2.0:assertion"`, ` ID="_dup"`, ` xmlns:ds="urn:evil"`, ` foo:ID="x"`}[r.IntN(8)]
		return s[:end] + ins + s[end:]
	case 8:
		// Text or a comment-like token in a random place.
		c := pos()
		ins := []string{"x", " ", "<!--c-->", "<![CDATA[x]]>", "<?pi x?>", "&#65;", "&lt;"}[r.IntN(7)]
		return s[:c] + ins + s[c:]
	case 9:
		// Drop an element.
		ts := tags()
		if len(ts) < 2 {
			return s
		}
		a, b := elementAt(ts[1+r.IntN(len(ts)-1)])
		return s[:a] + s[b:]
	default:
		// Two mutations.
		return mutate(r, mutate(r, s))
	}
}

// TestFastPathDifferential validates thousands of random mutations of
// valid responses in several shapes: whatever the fast path accepts,
// crewjam must accept with the same assertion.
func TestFastPathDifferential(t *testing.T) {
	p := newTestIdP(t)
	v := &Validator{}
	n := 800
	if testing.Short() {
		n = 100
	}
	shapes := []struct {
		name string
		opts testidp.ResponseOptions
		ids  []string
	}{
		{name: "both signed", opts: testidp.ResponseOptions{}},
		{name: "response signed", opts: testidp.ResponseOptions{Signing: testidp.SignResponse}},
		{name: "assertion signed", opts: testidp.ResponseOptions{Signing: testidp.SignAssertion}},
		{name: "no KeyInfo, SP-initiated", opts: testidp.ResponseOptions{OmitKeyInfo: true, InResponseTo: "id-req-1"}, ids: []string{"id-req-1"}},
	}
	for i, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			raw := string(p.response(t, shape.opts))
			sp := p.sp(t, acceptAll{}, shape.ids == nil)
			if !differential(t, v, sp, []byte(raw), shape.ids) {
				t.Fatal("the fast path refuses the unmutated response")
			}
			r := rand.New(rand.NewPCG(uint64(i), 9))
			accepted := 0
			for range n {
				m := mutate(r, raw)
				if differential(t, v, sp, []byte(m), shape.ids) && m != raw {
					accepted++
				}
			}
			t.Logf("the fast path accepted %d of %d mutations", accepted, n)
		})
	}
}

func TestEqualBase64(t *testing.T) {
	cases := []struct {
		name, text, want string
		equal            bool
	}{
		{"same", "QUJD", "QUJD", true},
		{"line breaks and spaces", "QU\nJ\r\n D\t", "QUJD", true},
		{"shorter", "QUJ", "QUJD", false},
		{"longer", "QUJDRA==", "QUJD", false},
		{"other character", "QUJE", "QUJD", false},
		{"non-breaking space is not white space", "QUJ\u00a0D", "QUJD", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := equalBase64(c.text, c.want); got != c.equal {
				t.Fatalf("equalBase64(%q, %q) = %v", c.text, c.want, got)
			}
		})
	}
}
