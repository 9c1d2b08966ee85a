package saml_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/cputime"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

const (
	spEntity = "https://gatehouse.example/sso/saml/conn_1/metadata"
	spACS    = "https://gatehouse.example/sso/saml/conn_1/acs"
)

// memReplay is an in-memory replay cache for unit tests and benchmarks.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
	off  bool // accept every ID (benchmarks reuse one response)
}

func (m *memReplay) Consume(id string, _ time.Time) error {
	if m.off {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[id] {
		return crewjam.ErrAssertionReplayed
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	m.seen[id] = true
	return nil
}

func newIdP(t testing.TB) *testidp.SAMLIdP {
	t.Helper()
	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: "https://idp.example/saml"})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.AddUser(testidp.User{Email: "alice@example.com", Password: "x", FirstName: "Alice"}); err != nil {
		t.Fatal(err)
	}
	if err := idp.AddServiceProvider(spEntity, spACS); err != nil {
		t.Fatal(err)
	}
	return idp
}

func newSP(t testing.TB, idp *testidp.SAMLIdP, cache crewjam.AssertionReplayCache) *crewjam.ServiceProvider {
	t.Helper()
	sp, err := ssosaml.NewServiceProvider(ssosaml.Config{
		EntityID: spEntity, ACSURL: spACS, MetadataURL: spEntity, IdPEntityID: idp.EntityID(), IdPSSOURL: idp.SSOURL(),
		Certificates: []*x509.Certificate{idp.KeyPair().Certificate}, AllowIdPInitiated: true, ReplayCache: cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestValidateResponse(t *testing.T) {
	idp := newIdP(t)
	sp := newSP(t, idp, &memReplay{})
	resp, err := idp.Response(testidp.ResponseOptions{ServiceProvider: spEntity, User: testidp.User{Email: "alice@example.com", FirstName: "Alice"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssosaml.DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ssosaml.ValidateResponse(sp, raw, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if ssosaml.NameID(a) != "alice@example.com" || ssosaml.Attributes(a)["firstName"][0] != "Alice" {
		t.Fatalf("assertion %+v", a)
	}
	_, err = ssosaml.ValidateResponse(sp, raw, nil, false)
	if failure.CodeOf(err) != failure.Replayed {
		t.Fatalf("replay: %v", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name string
		in   string
		code failure.Code
	}{
		{"empty", "", failure.ResponseMissing},
		{"too large", strings.Repeat("A", ssosaml.MaxEncodedResponse+1), failure.ResponseTooLarge},
		{"not base64", "***", failure.MalformedResponse},
		{"doctype", enc(`<!DOCTYPE x><x/>`), failure.DoctypeForbidden},
		{"lowercase doctype", enc(`<!doctype x><x/>`), failure.DoctypeForbidden},
		{"entity", enc(`<x><!ENTITY a "b"></x>`), failure.DoctypeForbidden},
		{"comment", enc(`<x><!-- hi --></x>`), failure.CommentForbidden},
		{"fine", enc(`<x/>`), ""},
		{"fine with newlines", enc(`<x/>`)[:4] + "\r\n" + enc(`<x/>`)[4:], ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ssosaml.DecodeResponse(c.in)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if failure.CodeOf(err) != c.code {
				t.Fatalf("code %s, want %s (%v)", failure.CodeOf(err), c.code, err)
			}
		})
	}
}

func TestParseMetadata(t *testing.T) {
	idp := newIdP(t)
	md, err := ssosaml.ParseMetadata(idp.MetadataXML())
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != idp.EntityID() || md.SSOURL != idp.SSOURL() || len(md.Certificates) != 1 {
		t.Fatalf("metadata %+v", md)
	}
	if md.SSOBinding != ssosaml.BindingRedirect {
		t.Fatalf("binding %s", md.SSOBinding)
	}
	postOnly := strings.ReplaceAll(string(idp.MetadataXML()), crewjam.HTTPRedirectBinding, "urn:example:unsupported")
	md, err = ssosaml.ParseMetadata([]byte(postOnly))
	if err != nil || md.SSOBinding != ssosaml.BindingPOST || md.SSOURL != idp.SSOURL() {
		t.Fatalf("POST-only metadata: %v %+v", err, md)
	}
	bad := []struct{ name, xml string }{
		{"not xml", "hello"},
		{"no idp", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"></EntityDescriptor>`},
		{"doctype", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&e;"/>`},
		{"too large", strings.Repeat(" ", ssosaml.MaxMetadata+1)},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ssosaml.ParseMetadata([]byte(c.xml)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestSPMetadata checks the SP metadata we publish for a connection.
func TestSPMetadata(t *testing.T) {
	idp := newIdP(t)
	sp := newSP(t, idp, &memReplay{})
	b, err := ssosaml.Metadata(sp)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `entityID="`+spEntity+`"`) || !strings.Contains(s, spACS) || !strings.Contains(s, crewjam.HTTPPostBinding) {
		t.Fatalf("metadata %s", s)
	}
	if _, err := idp.AddServiceProviderMetadata(b); err != nil {
		t.Fatalf("IdP refuses our metadata: %v", err)
	}
}

// FuzzACS feeds arbitrary SAMLResponse form values to the ACS validation:
// it must never panic, and every rejection must carry a failure code.
func FuzzACS(f *testing.F) {
	idp := newIdP(f)
	for _, o := range []testidp.ResponseOptions{
		{ServiceProvider: spEntity, User: testidp.User{Email: "alice@example.com"}},
		{ServiceProvider: spEntity, User: testidp.User{Email: "alice@example.com"}, Signing: testidp.SignAssertion},
		{ServiceProvider: spEntity, User: testidp.User{Email: "alice@example.com"}, Signing: testidp.SignNone},
	} {
		r, err := idp.Response(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r)
	}
	f.Add("")
	f.Add("PHg+PC94Pg==")
	f.Add(base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"><Assertion/><Assertion/></samlp:Response>`)))
	sp := newSP(f, idp, &memReplay{off: true})
	fast := &ssosaml.Validator{}
	crewjamOnly := &ssosaml.Validator{}
	crewjamOnly.SetFastPath(false)
	f.Fuzz(func(t *testing.T, in string) {
		// Both paths: the fast path (then crewjam) and crewjam alone must
		// agree on the outcome and on the failure code.
		var results [2]*crewjam.Assertion
		var codes [2]failure.Code
		for i, v := range []*ssosaml.Validator{fast, crewjamOnly} {
			raw, err := ssosaml.DecodeResponse(in)
			if err == nil {
				results[i], err = v.Validate(sp, raw, nil, false)
			}
			if err != nil {
				var fe *failure.Error
				if !errors.As(err, &fe) || fe.Code == "" {
					t.Fatalf("untyped error %v", err)
				}
				codes[i] = fe.Code
			}
		}
		if codes[0] != codes[1] {
			t.Fatalf("fast path on: %q, off: %q", codes[0], codes[1])
		}
		if a, b := results[0], results[1]; a != nil && (b == nil || a.ID != b.ID || ssosaml.NameID(a) != ssosaml.NameID(b)) {
			t.Fatalf("the paths accepted different assertions")
		}
	})
}

// FuzzParseMetadata feeds arbitrary metadata to ParseMetadata.
func FuzzParseMetadata(f *testing.F) {
	idp := newIdP(f)
	f.Add(idp.MetadataXML())
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"></EntitiesDescriptor>`))
	f.Add([]byte(`<!DOCTYPE x><x/>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		md, err := ssosaml.ParseMetadata(in)
		if err == nil && (md.EntityID == "" || md.SSOURL == "") {
			t.Fatalf("accepted incomplete metadata %+v", md)
		}
	})
}

// BenchmarkValidateResponse measures ACS validation alone: decode, DTD and
// comment checks, XML signature verification (RSA-SHA256, response and
// assertion signed), conditions; one ServiceProvider built per op, as the
// ACS does per request. "fast" is the Validator the ACS uses (fast path
// first), "crewjam" the same with the fast path off. Compare with
// BenchmarkRSAVerify from the same run.
func BenchmarkValidateResponse(b *testing.B) {
	idp := newIdP(b)
	resp, err := idp.Response(testidp.ResponseOptions{ServiceProvider: spEntity, User: testidp.User{Email: "alice@example.com"},
		NotOnOrAfter: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	cert := idp.KeyPair().Certificate
	cache := &memReplay{off: true}
	crewjamOnly := &ssosaml.Validator{}
	crewjamOnly.SetFastPath(false)
	for _, mode := range []struct {
		name string
		v    *ssosaml.Validator
	}{{"fast", &ssosaml.Validator{}}, {"crewjam", crewjamOnly}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				sp, err := ssosaml.NewServiceProvider(ssosaml.Config{EntityID: spEntity, ACSURL: spACS, MetadataURL: spEntity,
					IdPEntityID: idp.EntityID(), IdPSSOURL: idp.SSOURL(), Certificates: []*x509.Certificate{cert}, AllowIdPInitiated: true, ReplayCache: cache})
				if err != nil {
					b.Fatal(err)
				}
				raw, err := ssosaml.DecodeResponse(resp)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := mode.v.Validate(sp, raw, nil, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
			if fast, _ := mode.v.Stats(); mode.name == "fast" && fast == 0 {
				b.Fatal("the fast path accepted nothing")
			}
		})
	}
}

// BenchmarkRSAVerify is the yardstick: one raw RSA-2048 PKCS #1 v1.5
// SHA-256 verification.
func BenchmarkRSAVerify(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte("gatehouse"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
}
