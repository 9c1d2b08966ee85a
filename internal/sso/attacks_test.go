package sso_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// rejects runs an attack and checks that it is refused with a 4xx or an
// error redirect, issues no code, and records one new failure with code.
func (e *env) rejects(t *testing.T, attack func() *http.Response, code string) {
	t.Helper()
	before := e.countEvents("authentication.sso_failed")
	fastBefore, _ := e.srv.SSO.SAML.Stats()
	res := attack()
	e.expectRejected(t, res, code)
	if after := e.countEvents("authentication.sso_failed"); after != before+1 {
		t.Fatalf("%d new sso_failed events, want 1", after-before)
	}
	// A replayed assertion is valid to either validator; the transaction
	// that issues the code refuses it.
	if fastAfter, _ := e.srv.SSO.SAML.Stats(); fastAfter != fastBefore && code != "replayed" {
		t.Fatal("the SAML fast path accepted an attack")
	}
}

// children returns el's descendants (and el) whose local tag is tag.
func descendants(el *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	if el.Tag == tag {
		out = append(out, el)
	}
	for _, c := range el.ChildElements() {
		out = append(out, descendants(c, tag)...)
	}
	return out
}

func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// tamper makes an assertion say the bearer is mallory.
func tamper(assertion *etree.Element, newID string) {
	if newID != "" {
		assertion.CreateAttr("ID", newID)
	}
	for _, n := range descendants(assertion, "NameID") {
		n.SetText("mallory@evil.example")
	}
	for _, v := range descendants(assertion, "AttributeValue") {
		if strings.Contains(v.Text(), "@") {
			v.SetText("mallory@evil.example")
		}
	}
}

func removeSignature(el *etree.Element) {
	if s := child(el, "Signature"); s != nil {
		el.RemoveChild(s)
	}
}

// TestSAMLAttacks runs every attack with the SAML fast path on (the
// default; it must accept none of them, and every rejection keeps its
// code) and off (crewjam alone).
func TestSAMLAttacks(t *testing.T) {
	for _, backend := range backends(t) {
		for _, fast := range []bool{true, false} {
			name := backend + "/fast_path_off"
			if fast {
				name = backend + "/fast_path_on"
			}
			t.Run(name, func(t *testing.T) { testSAMLAttacks(t, backend, fast) })
		}
	}
}

func testSAMLAttacks(t *testing.T, backend string, fast bool) {
	e := newEnv(t, backend)
	e.srv.SSO.SAML.SetFastPath(fast)
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, nil)
	sp := conn.SAML.SPEntityID
	other := e.samlIdP(testidp.SAMLOptions{}) // another tenant's IdP
	otherConn := e.samlConnection(other, nil)
	_ = otherConn

	build := func(t *testing.T, o testidp.ResponseOptions) string {
		t.Helper()
		if o.ServiceProvider == "" {
			o.ServiceProvider = sp
		}
		if o.User.Email == "" && o.NameID == "" {
			o.User = alice
		}
		return must[string](t)(idp.Response(o))
	}
	post := func(samlResponse, relay string) func() *http.Response {
		return func() *http.Response {
			v := url.Values{"SAMLResponse": {samlResponse}}
			if relay != "" {
				v.Set("RelayState", relay)
			}
			return e.post(conn.SAML.ACSURL, v)
		}
	}
	// edit decodes a response, lets fn change it and encodes it again.
	edit := func(t *testing.T, o testidp.ResponseOptions, fn func(root *etree.Element)) string {
		t.Helper()
		doc := must[*etree.Document](t)(testidp.DecodeResponse(build(t, o)))
		fn(doc.Root())
		return must[string](t)(testidp.EncodeResponse(doc))
	}
	rawXML := func(xml string) string { return base64.StdEncoding.EncodeToString([]byte(xml)) }
	// startLogin begins an SP-initiated login and returns its request ID
	// (our RelayState).
	startLogin := func(t *testing.T) string {
		t.Helper()
		res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
			"redirect_uri": {redirectURI}, "connection": {conn.ID}, "state": {"x"}}.Encode())
		loc := must[*url.URL](t)(url.Parse(res.Header.Get("Location")))
		return loc.Query().Get("RelayState")
	}
	respSigned := testidp.ResponseOptions{Signing: testidp.SignResponse}
	asrtSigned := testidp.ResponseOptions{Signing: testidp.SignAssertion}

	cases := []struct {
		name   string
		attack func(t *testing.T) func() *http.Response
		code   string
	}{
		// Signature wrapping, numbered as in SAMLRaider.
		{"XSW1 evil response carries original in its signature", func(t *testing.T) func() *http.Response {
			return post(edit(t, respSigned, func(root *etree.Element) {
				orig := root.Copy()
				removeSignature(orig)
				root.CreateAttr("ID", "_evil_response")
				tamper(child(root, "Assertion"), "_evil_assertion")
				child(root, "Signature").AddChild(orig)
			}), "")
		}, "signature_invalid"},
		{"XSW2 original response before the signature", func(t *testing.T) func() *http.Response {
			return post(edit(t, respSigned, func(root *etree.Element) {
				orig := root.Copy()
				removeSignature(orig)
				root.CreateAttr("ID", "_evil_response")
				tamper(child(root, "Assertion"), "_evil_assertion")
				sig := child(root, "Signature")
				root.InsertChildAt(sig.Index(), orig)
			}), "")
		}, "signature_invalid"},
		{"XSW3 evil assertion before the signed one", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				evil := a.Copy()
				removeSignature(evil)
				tamper(evil, "_evil_assertion")
				root.InsertChildAt(a.Index(), evil)
			}), "")
		}, "multiple_assertions"},
		{"XSW4 signed assertion inside the evil one", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				evil := a.Copy()
				removeSignature(evil)
				tamper(evil, "_evil_assertion")
				root.RemoveChild(a)
				evil.AddChild(a)
				root.AddChild(evil)
			}), "")
		}, "signature_missing"},
		{"XSW5 evil assertion keeps the signature, original appended unsigned", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				orig := a.Copy()
				removeSignature(orig)
				tamper(a, "_evil_assertion")
				root.AddChild(orig)
			}), "")
		}, "multiple_assertions"},
		{"XSW6 original inside the evil assertion's signature", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				orig := a.Copy()
				removeSignature(orig)
				tamper(a, "_evil_assertion")
				child(a, "Signature").AddChild(orig)
			}), "")
		}, "signature_invalid"},
		{"XSW7 signed assertion hidden in Extensions", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				evil := a.Copy()
				removeSignature(evil)
				tamper(evil, "_evil_assertion")
				ext := etree.NewElement("samlp:Extensions")
				root.RemoveChild(a)
				ext.AddChild(a)
				root.InsertChildAt(child(root, "Status").Index(), ext)
				root.AddChild(evil)
			}), "")
		}, "signature_missing"},
		{"XSW8 original in an Object of the evil assertion's signature", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				a := child(root, "Assertion")
				orig := a.Copy()
				removeSignature(orig)
				tamper(a, "_evil_assertion")
				obj := etree.NewElement("ds:Object")
				obj.AddChild(orig)
				child(a, "Signature").AddChild(obj)
			}), "")
		}, "signature_invalid"},

		{"comment injection in NameID", func(t *testing.T) func() *http.Response {
			u := testidp.User{Email: "alice@example.com.evil.example"}
			return post(edit(t, testidp.ResponseOptions{User: u}, func(root *etree.Element) {
				for _, n := range descendants(root, "NameID") {
					n.SetText("")
					n.AddChild(etree.NewText("alice@example.com"))
					n.AddChild(etree.NewComment(""))
					n.AddChild(etree.NewText(".evil.example"))
				}
			}), "")
		}, "comment_forbidden"},
		{"unsigned response", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Signing: testidp.SignNone}), "")
		}, "signature_missing"},
		{"signatures removed", func(t *testing.T) func() *http.Response {
			return post(edit(t, testidp.ResponseOptions{}, func(root *etree.Element) {
				removeSignature(root)
				removeSignature(child(root, "Assertion"))
			}), "")
		}, "signature_missing"},
		{"certificate faked in KeyInfo", func(t *testing.T) func() *http.Response {
			fake := must[*testidp.KeyPair](t)(testidp.NewKeyPair(idp.KeyPair().Certificate.Subject.CommonName))
			return post(build(t, testidp.ResponseOptions{SigningKey: fake}), "")
		}, "certificate_unknown"},
		{"certificate faked, no KeyInfo", func(t *testing.T) func() *http.Response {
			fake := must[*testidp.KeyPair](t)(testidp.NewKeyPair("attacker"))
			return post(build(t, testidp.ResponseOptions{SigningKey: fake, OmitKeyInfo: true}), "")
		}, "signature_invalid"},
		{"another tenant's IdP key", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{SigningKey: other.KeyPair(), Issuer: idp.EntityID()}), "")
		}, "certificate_unknown"},
		{"duplicated assertion", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) {
				root.AddChild(child(root, "Assertion").Copy())
			}), "")
		}, "multiple_assertions"},
		{"digest mismatch", func(t *testing.T) func() *http.Response {
			return post(edit(t, asrtSigned, func(root *etree.Element) { tamper(child(root, "Assertion"), "") }), "")
		}, "signature_invalid"},
		{"audience mismatch", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Audience: "https://other-sp.example/metadata"}), "")
		}, "audience_mismatch"},
		{"recipient mismatch", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Recipient: "https://other-sp.example/acs"}), "")
		}, "destination_mismatch"},
		{"destination mismatch", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Destination: "https://other-sp.example/acs"}), "")
		}, "destination_mismatch"},
		{"issuer mismatch", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Issuer: "https://evil.example/idp"}), "")
		}, "issuer_mismatch"},
		{"expired", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Now: time.Now().Add(-time.Hour)}), "")
		}, "response_expired"},
		{"not yet valid", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{NotBefore: time.Now().Add(time.Hour), NotOnOrAfter: time.Now().Add(2 * time.Hour)}), "")
		}, "response_not_yet_valid"},
		{"InResponseTo mismatch", func(t *testing.T) func() *http.Response {
			relay := startLogin(t)
			return post(build(t, testidp.ResponseOptions{InResponseTo: "_someone_elses_request"}), relay)
		}, "in_response_to_mismatch"},
		{"unsolicited response to a started login", func(t *testing.T) func() *http.Response {
			relay := startLogin(t)
			return post(build(t, testidp.ResponseOptions{}), relay)
		}, "in_response_to_mismatch"},
		{"InResponseTo of an unknown request, IdP-initiated", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{InResponseTo: "_never_sent"}), "")
		}, "in_response_to_mismatch"},
		{"replay", func(t *testing.T) func() *http.Response {
			r := build(t, testidp.ResponseOptions{})
			if res := post(r, "")(); res.StatusCode != http.StatusFound || !strings.Contains(res.Header.Get("Location"), "code=") {
				t.Fatalf("first use refused: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			return post(r, "")
		}, "replayed"},
		{"SHA-1 signature", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{SHA1: true}), "")
		}, "sha1_forbidden"},
		{"XXE external entity", func(t *testing.T) func() *http.Response {
			return post(rawXML(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>`), "")
		}, "doctype_forbidden"},
		{"entity expansion (billion laughs)", func(t *testing.T) func() *http.Response {
			x := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:Response>`
			return post(rawXML(x), "")
		}, "doctype_forbidden"},
		{"DOCTYPE before a valid response", func(t *testing.T) func() *http.Response {
			raw := must[[]byte](t)(base64.StdEncoding.DecodeString(build(t, testidp.ResponseOptions{})))
			return post(base64.StdEncoding.EncodeToString(append([]byte("<!DOCTYPE Response>"), raw...)), "")
		}, "doctype_forbidden"},
		{"oversized response", func(t *testing.T) func() *http.Response {
			return post(strings.Repeat("A", 600<<10), "")
		}, "response_too_large"},
		{"oversized form", func(t *testing.T) func() *http.Response {
			return post(strings.Repeat("A", 2<<20), "")
		}, "response_too_large"},
		{"deflate bomb", func(t *testing.T) func() *http.Response {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestCompression)
			w.Write(bytes.Repeat([]byte("<a>"), 20<<20))
			w.Close()
			return post(base64.StdEncoding.EncodeToString(buf.Bytes()), "")
		}, "malformed_response"},
		{"not base64", func(t *testing.T) func() *http.Response { return post("%%%not-base64%%%", "") }, "malformed_response"},
		{"missing SAMLResponse", func(t *testing.T) func() *http.Response { return post("", "") }, "response_missing"},
		{"non-success status", func(t *testing.T) func() *http.Response {
			return post(build(t, testidp.ResponseOptions{Status: crewjam.StatusRequester, StatusMessage: "denied"}), "")
		}, "idp_error_status"},
		{"RelayState of an expired or used login", func(t *testing.T) func() *http.Response {
			relay := startLogin(t)
			form := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: sp, User: alice, InResponseTo: relay}))
			if res := post(form, relay)(); !strings.Contains(res.Header.Get("Location"), "code=") {
				t.Fatalf("first use refused: %s", res.Header.Get("Location"))
			}
			return post(build(t, testidp.ResponseOptions{InResponseTo: relay}), relay)
		}, "in_response_to_mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { e.rejects(t, c.attack(t), c.code) })
	}

	t.Run("IdP-initiated off", func(t *testing.T) {
		e.api("PUT", "/connections/"+conn.ID, map[string]any{"saml": map[string]any{"allow_idp_initiated": false}}, 200, nil)
		defer e.api("PUT", "/connections/"+conn.ID, map[string]any{"saml": map[string]any{"allow_idp_initiated": true}}, 200, nil)
		e.rejects(t, post(build(t, testidp.ResponseOptions{}), ""), "idp_initiated_disabled")
	})
	t.Run("inactive connection", func(t *testing.T) {
		e.api("PUT", "/connections/"+conn.ID, map[string]any{"state": "inactive"}, 200, nil)
		defer e.api("PUT", "/connections/"+conn.ID, map[string]any{"state": "active"}, 200, nil)
		e.rejects(t, post(build(t, testidp.ResponseOptions{}), ""), "connection_inactive")
	})
	t.Run("other tenant's valid response at our ACS", func(t *testing.T) {
		r := must[string](t)(other.Response(testidp.ResponseOptions{ServiceProvider: otherConn.SAML.SPEntityID, User: alice,
			ACSURL: conn.SAML.ACSURL, Audience: sp}))
		e.rejects(t, post(r, ""), "certificate_unknown")
	})
	t.Run("a correct response is still accepted", func(t *testing.T) {
		fastBefore, _ := e.srv.SSO.SAML.Stats()
		res := post(build(t, testidp.ResponseOptions{}), "")()
		if !strings.Contains(res.Header.Get("Location"), "code=") {
			t.Fatalf("refused: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		fastAfter, _ := e.srv.SSO.SAML.Stats()
		if want := map[bool]uint64{true: 1, false: 0}[fast]; fastAfter-fastBefore != want {
			t.Fatalf("the fast path accepted %d responses, want %d", fastAfter-fastBefore, want)
		}
	})
}

// TestConcurrentReplay posts one assertion many times at once: exactly one
// post gets a code, the others are refused as replays.
func TestConcurrentReplay(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
			const n = 8
			var wg sync.WaitGroup
			codes := make(chan string, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := e.client.PostForm(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					loc, _ := url.Parse(res.Header.Get("Location"))
					if res.StatusCode >= 500 {
						t.Errorf("status %d", res.StatusCode)
					}
					if loc != nil && loc.Query().Get("code") != "" {
						codes <- loc.Query().Get("code")
					}
				}()
			}
			wg.Wait()
			close(codes)
			if len(codes) != 1 {
				t.Fatalf("%d codes issued for one assertion", len(codes))
			}
			if got := e.countEvents("authentication.sso_failed"); got != n-1 {
				t.Fatalf("%d failures recorded, want %d", got, n-1)
			}
		})
	}
}
