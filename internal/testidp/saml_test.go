package testidp

import (
	"encoding/xml"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// Shared fixtures: RSA key generation is slow, so each test binary makes
// the SP keys once.
var (
	spKeys    = mustKeyPair("sp.example.test")
	otherKeys = mustKeyPair("another tenant")
)

func mustKeyPair(cn string) *KeyPair {
	kp, err := NewKeyPair(cn)
	if err != nil {
		panic(err)
	}
	return kp
}

var alice = User{
	Email:     "alice@example.test",
	Password:  "alice-password",
	FirstName: "Alice",
	LastName:  "Liddell",
	Groups:    []string{"engineering", "admins"},
}

// newSAMLServer starts a SAML IdP behind httptest with alice as a user.
func newSAMLServer(t *testing.T, opts SAMLOptions) (*SAMLIdP, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	prefix := strings.TrimSuffix(opts.BaseURL, "/") // a path, or "" to serve at the root
	opts.BaseURL = "http://" + srv.Listener.Addr().String() + prefix
	idp, err := NewSAML(opts)
	if err != nil {
		t.Fatalf("NewSAML: %v", err)
	}
	if err := idp.AddUser(alice); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if prefix == "" {
		srv.Config.Handler = idp
	} else {
		// Mounted under a path prefix on a bigger server.
		mux := http.NewServeMux()
		mux.Handle(prefix+"/", idp)
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "host app", http.StatusTeapot) })
		srv.Config.Handler = mux
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return idp, srv
}

// newSP returns a crewjam service provider trusting idp, registered at the
// IdP by entity ID and ACS URL.
func newSP(t *testing.T, idp *SAMLIdP) *saml.ServiceProvider {
	t.Helper()
	md, err := parseIdPMetadata(idp.MetadataXML())
	if err != nil {
		t.Fatalf("parse IdP metadata: %v", err)
	}
	acs, _ := url.Parse("https://sp.example.test/saml/acs")
	meta, _ := url.Parse("https://sp.example.test/saml/metadata")
	sp := &saml.ServiceProvider{
		EntityID:    meta.String(),
		Key:         spKeys.Key,
		Certificate: spKeys.Certificate,
		MetadataURL: *meta,
		AcsURL:      *acs,
		IDPMetadata: md,
	}
	if err := idp.AddServiceProvider(sp.EntityID, acs.String()); err != nil {
		t.Fatalf("AddServiceProvider: %v", err)
	}
	return sp
}

// parseIdPMetadata reads IdP metadata as an SP configured from it would.
func parseIdPMetadata(b []byte) (*saml.EntityDescriptor, error) {
	md := &saml.EntityDescriptor{}
	if err := xml.Unmarshal(b, md); err != nil {
		return nil, err
	}
	return md, nil
}

// parse validates a base64 SAMLResponse at sp's ACS.
func parse(sp *saml.ServiceProvider, samlResponse string, requestIDs ...string) (*saml.Assertion, error) {
	doc, err := DecodeResponse(samlResponse)
	if err != nil {
		return nil, err
	}
	raw, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	return sp.ParseXMLResponse(raw, requestIDs, sp.AcsURL)
}

// privateErr unwraps crewjam's deliberately opaque error for test logs.
func privateErr(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		return ire.PrivateErr
	}
	return err
}

func attr(a *saml.Assertion, name string) []string {
	var vs []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name {
				for _, v := range at.Values {
					vs = append(vs, v.Value)
				}
			}
		}
	}
	return vs
}

func TestSAMLMetadata(t *testing.T) {
	idp, srv := newSAMLServer(t, SAMLOptions{})
	resp, err := srv.Client().Get(idp.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metadata: %s", resp.Status)
	}
	md, err := parseIdPMetadata(body)
	if err != nil {
		t.Fatalf("parse served metadata: %v", err)
	}
	if md.EntityID != idp.EntityID() || idp.EntityID() != srv.URL+"/metadata" {
		t.Errorf("entity ID = %q, want %q", md.EntityID, srv.URL+"/metadata")
	}
	if got := md.IDPSSODescriptors[0].SingleSignOnServices[0].Location; got != idp.SSOURL() {
		t.Errorf("SSO location = %q, want %q", got, idp.SSOURL())
	}
	if !strings.Contains(string(idp.CertificatePEM()), "BEGIN CERTIFICATE") {
		t.Error("CertificatePEM is not PEM")
	}
}

func TestSAMLStableKeyPair(t *testing.T) {
	kp := mustKeyPair("stable")
	keyPEM, err := kp.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	reloaded, err := ParseKeyPair(kp.CertificatePEM(), keyPEM)
	if err != nil {
		t.Fatalf("ParseKeyPair: %v", err)
	}
	idp, err := NewSAML(SAMLOptions{BaseURL: "http://127.0.0.1:8080/testidp/saml", KeyPair: reloaded})
	if err != nil {
		t.Fatal(err)
	}
	if !idp.KeyPair().Certificate.Equal(kp.Certificate) {
		t.Error("IdP does not use the given certificate")
	}
	if _, err := ParseKeyPair(kp.CertificatePEM(), mustPEM(t, otherKeys)); err == nil {
		t.Error("ParseKeyPair accepted a certificate of another key")
	}
	if _, err := NewSAML(SAMLOptions{BaseURL: "/relative"}); err == nil {
		t.Error("NewSAML accepted a relative base URL")
	}
}

func mustPEM(t *testing.T, kp *KeyPair) []byte {
	t.Helper()
	b, err := kp.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSAMLResponseAccepted(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})
	tests := []struct {
		name      string
		opts      ResponseOptions
		requestID string
		setup     func(*saml.ServiceProvider)
	}{
		{name: "SP-initiated, both signed", opts: ResponseOptions{InResponseTo: "id-req-1"}, requestID: "id-req-1"},
		{name: "assertion signed only", opts: ResponseOptions{InResponseTo: "id-req-1", Signing: SignAssertion}, requestID: "id-req-1"},
		{name: "response signed only", opts: ResponseOptions{InResponseTo: "id-req-1", Signing: SignResponse}, requestID: "id-req-1"},
		{name: "no KeyInfo", opts: ResponseOptions{InResponseTo: "id-req-1", OmitKeyInfo: true}, requestID: "id-req-1"},
		{name: "encrypted GCM", opts: ResponseOptions{InResponseTo: "id-req-1", EncryptTo: spKeys.Certificate}, requestID: "id-req-1"},
		{name: "encrypted CBC, response signed", opts: ResponseOptions{InResponseTo: "id-req-1", EncryptTo: spKeys.Certificate, EncryptCBC: true}, requestID: "id-req-1"},
		{
			name:  "IdP-initiated",
			opts:  ResponseOptions{},
			setup: func(sp *saml.ServiceProvider) { sp.AllowIDPInitiated = true },
		},
		{
			name:  "SHA-1 when the SP allows it",
			opts:  ResponseOptions{InResponseTo: "id-req-1", SHA1: true},
			setup: func(sp *saml.ServiceProvider) { sp.RejectSHA1Signatures = false }, requestID: "id-req-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newSP(t, idp)
			sp.RejectSHA1Signatures = true
			if tt.setup != nil {
				tt.setup(sp)
			}
			tt.opts.ServiceProvider = sp.EntityID
			tt.opts.User = alice
			resp, err := idp.Response(tt.opts)
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			var ids []string
			if tt.requestID != "" {
				ids = []string{tt.requestID}
			}
			a, err := parse(sp, resp, ids...)
			if err != nil {
				t.Fatalf("SP rejected the response: %v", privateErr(err))
			}
			if a.Subject.NameID.Value != alice.Email || a.Subject.NameID.Format != string(saml.EmailAddressNameIDFormat) {
				t.Errorf("NameID = %+v", a.Subject.NameID)
			}
			if got := attr(a, "email"); len(got) != 1 || got[0] != alice.Email {
				t.Errorf("email = %v", got)
			}
			if got := attr(a, "firstName"); len(got) != 1 || got[0] != "Alice" {
				t.Errorf("firstName = %v", got)
			}
			if got := attr(a, "groups"); strings.Join(got, ",") != "engineering,admins" {
				t.Errorf("groups = %v", got)
			}
		})
	}
}

func TestSAMLResponseRejected(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})
	forged := mustKeyPair(idp.KeyPair().Certificate.Subject.CommonName)
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name        string
		opts        ResponseOptions
		unsolicited bool // leave InResponseTo empty
		tamper      func(t *testing.T, doc *etree.Document)
		want        error // a crewjam error class, or nil for any error
	}{
		{name: "unsigned", opts: ResponseOptions{Signing: SignNone}},
		{name: "another tenant's key", opts: ResponseOptions{SigningKey: otherKeys}, want: saml.ErrInvalidSignature},
		{name: "forged look-alike certificate", opts: ResponseOptions{SigningKey: forged}},
		{name: "forged certificate without KeyInfo", opts: ResponseOptions{SigningKey: forged, OmitKeyInfo: true}, want: saml.ErrInvalidSignature},
		{name: "SHA-1", opts: ResponseOptions{SHA1: true}},
		{name: "wrong audience", opts: ResponseOptions{Audience: "https://other.example.test"}, want: saml.ErrAudienceMismatch},
		{name: "wrong destination", opts: ResponseOptions{Destination: "https://other.example.test/acs"}, want: saml.ErrDestinationMismatch},
		{name: "wrong recipient", opts: ResponseOptions{Recipient: "https://other.example.test/acs"}},
		{name: "wrong issuer", opts: ResponseOptions{Issuer: "https://evil.example.test"}, want: saml.ErrIssuerMismatch},
		{name: "expired", opts: ResponseOptions{NotBefore: past.Add(-time.Minute), NotOnOrAfter: past}, want: saml.ErrExpired},
		{name: "not yet valid", opts: ResponseOptions{NotBefore: time.Now().Add(time.Hour)}},
		{name: "subject confirmation expired", opts: ResponseOptions{SubjectNotOnOrAfter: past}},
		{name: "wrong InResponseTo", opts: ResponseOptions{InResponseTo: "id-other"}},
		{name: "unsolicited", unsolicited: true},
		{name: "status Requester", opts: ResponseOptions{Status: saml.StatusRequester, StatusMessage: "denied"}},
		{name: "status Requester without assertion", opts: ResponseOptions{Status: saml.StatusRequester, OmitAssertion: true}},
		{
			name: "NameID changed after signing",
			opts: ResponseOptions{},
			tamper: func(t *testing.T, doc *etree.Document) {
				el := doc.FindElement("//NameID")
				if el == nil {
					t.Fatal("no NameID")
				}
				el.SetText("mallory@example.test")
			},
		},
		{
			name: "signed assertion wrapped next to an evil copy",
			opts: ResponseOptions{Signing: SignAssertion},
			tamper: func(t *testing.T, doc *etree.Document) {
				orig := doc.FindElement("//Assertion")
				evil := orig.Copy()
				evil.RemoveChild(evil.SelectElement("Signature"))
				evil.CreateAttr("ID", "_evil")
				evil.FindElement(".//NameID").SetText("mallory@example.test")
				doc.Root().InsertChildAt(orig.Index(), evil)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newSP(t, idp)
			sp.RejectSHA1Signatures = true
			tt.opts.ServiceProvider = sp.EntityID
			tt.opts.User = alice
			if tt.opts.InResponseTo == "" && !tt.unsolicited {
				tt.opts.InResponseTo = "id-req-1"
			}
			resp, err := idp.Response(tt.opts)
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if tt.tamper != nil {
				doc, err := DecodeResponse(resp)
				if err != nil {
					t.Fatal(err)
				}
				tt.tamper(t, doc)
				if resp, err = EncodeResponse(doc); err != nil {
					t.Fatal(err)
				}
			}
			a, err := parse(sp, resp, "id-req-1")
			if err == nil {
				t.Fatalf("SP accepted the response for %s", a.Subject.NameID.Value)
			}
			if tt.want != nil && !errors.Is(privateErr(err), tt.want) {
				t.Errorf("error = %v, want %v", privateErr(err), tt.want)
			}
			t.Logf("rejected: %v", privateErr(err))
		})
	}
}

// TestSAMLCommentInjection checks that the tamper helpers reproduce the
// comment-injection attack faithfully (CVE-2017-11427 class): a comment
// inside a signed NameID leaves the signature valid, so only the SP's
// reading of the text decides.
func TestSAMLCommentInjection(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})
	sp := newSP(t, idp)
	mallory := User{Email: "alice@example.test.evil.test"}
	resp, err := idp.Response(ResponseOptions{ServiceProvider: sp.EntityID, User: mallory, InResponseTo: "id-1", Signing: SignAssertion})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	nameID := doc.FindElement("//Assertion/Subject/NameID")
	nameID.SetText("alice@example.test")
	nameID.CreateComment("")
	nameID.CreateText(".evil.test")
	if resp, err = EncodeResponse(doc); err != nil {
		t.Fatal(err)
	}
	a, err := parse(sp, resp, "id-1")
	if err != nil {
		t.Fatalf("the signature no longer verifies, so the attack was not reproduced: %v", privateErr(err))
	}
	if got := a.Subject.NameID.Value; got != mallory.Email {
		t.Errorf("crewjam read NameID %q, want the whole signed text %q", got, mallory.Email)
	}
}

func TestSAMLResponseRoundTripKeepsSignature(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})
	sp := newSP(t, idp)
	resp, err := idp.Response(ResponseOptions{ServiceProvider: sp.EntityID, User: alice, InResponseTo: "id-1"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeResponse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(sp, again, "id-1"); err != nil {
		t.Fatalf("decode/encode broke the response: %v", privateErr(err))
	}
	if _, err := DecodeResponse("not base64!"); err == nil {
		t.Error("DecodeResponse accepted garbage")
	}
}

func TestSAMLResponseOptionErrors(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})
	tests := []struct {
		name string
		opts ResponseOptions
	}{
		{name: "no SP and no ACS", opts: ResponseOptions{User: alice}},
		{name: "unknown SP", opts: ResponseOptions{ServiceProvider: "https://nobody.example.test", User: alice}},
		{name: "no subject", opts: ResponseOptions{ACSURL: "https://sp.example.test/acs", Audience: "sp"}},
		{name: "incomplete signing key", opts: ResponseOptions{ACSURL: "https://a.test/acs", Audience: "sp", User: alice, SigningKey: &KeyPair{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := idp.Response(tt.opts); err == nil {
				t.Error("Response succeeded")
			}
		})
	}
}

func TestSAMLProgrammaticLogins(t *testing.T) {
	idp, _ := newSAMLServer(t, SAMLOptions{})

	t.Run("SP-initiated", func(t *testing.T) {
		sp := newSP(t, idp)
		req, err := sp.MakeAuthenticationRequest(idp.SSOURL(), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		u, err := req.Redirect("relay-1", sp)
		if err != nil {
			t.Fatal(err)
		}
		form, err := idp.SPInitiatedLogin(u.String(), alice.Email)
		if err != nil {
			t.Fatalf("SPInitiatedLogin: %v", err)
		}
		if form.URL != sp.AcsURL.String() || form.RelayState != "relay-1" {
			t.Errorf("form = %+v", form)
		}
		a, err := parse(sp, form.SAMLResponse, req.ID)
		if err != nil {
			t.Fatalf("SP rejected: %v", privateErr(err))
		}
		if got := attr(a, "lastName"); len(got) != 1 || got[0] != "Liddell" {
			t.Errorf("lastName = %v", got)
		}
		if _, err := idp.SPInitiatedLogin(u.String(), "nobody@example.test"); err == nil {
			t.Error("unknown user signed in")
		}
	})

	t.Run("IdP-initiated", func(t *testing.T) {
		sp := newSP(t, idp)
		form, err := idp.IdPInitiatedLogin(sp.EntityID, alice.Email, "")
		if err != nil {
			t.Fatalf("IdPInitiatedLogin: %v", err)
		}
		if _, err := parse(sp, form.SAMLResponse); err == nil {
			t.Fatal("SP without AllowIDPInitiated accepted an unsolicited response")
		}
		sp.AllowIDPInitiated = true
		if _, err := parse(sp, form.SAMLResponse); err != nil {
			t.Fatalf("SP rejected: %v", privateErr(err))
		}
		if _, err := idp.IdPInitiatedLogin("https://nobody.example.test", alice.Email, ""); err == nil {
			t.Error("login to an unknown SP succeeded")
		}
	})

	t.Run("SP metadata with encryption key", func(t *testing.T) {
		sp := newSP(t, idp)
		sp.AllowIDPInitiated = true
		sp.EntityID = "https://encrypted.example.test/saml/metadata"
		md, err := xml.Marshal(sp.Metadata())
		if err != nil {
			t.Fatal(err)
		}
		entityID, err := idp.AddServiceProviderMetadata(md)
		if err != nil {
			t.Fatalf("AddServiceProviderMetadata: %v", err)
		}
		if entityID != sp.EntityID {
			t.Errorf("entity ID = %q", entityID)
		}
		form, err := idp.IdPInitiatedLogin(entityID, alice.Email, "")
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := DecodeResponse(form.SAMLResponse)
		if doc.FindElement("//EncryptedAssertion") == nil {
			t.Error("assertion is not encrypted although the SP publishes an encryption key")
		}
		if _, err := parse(sp, form.SAMLResponse); err != nil {
			t.Fatalf("SP rejected: %v", privateErr(err))
		}
	})

	t.Run("bad SP metadata", func(t *testing.T) {
		for name, md := range map[string]string{
			"doctype":  `<!DOCTYPE x [<!ENTITY e "e">]><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`,
			"no ACS":   `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`,
			"not XML":  `{}`,
			"no ID":    `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>`,
			"too long": strings.Repeat(" ", maxMetadataBytes+1),
		} {
			if _, err := idp.AddServiceProviderMetadata([]byte(md)); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

var (
	loginIDRe      = regexp.MustCompile(`name="login_id" value="([^"]+)"`)
	samlResponseRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)
	relayStateRe   = regexp.MustCompile(`name="RelayState" value="([^"]+)"`)
)

// browser is an HTTP client with cookies that does not follow redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func fetch(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fetch(t, c, req)
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return fetch(t, c, req)
}

func submatch(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

// login signs in at a login page with the given password.
func login(t *testing.T, c *http.Client, action, page, password string) (*http.Response, string) {
	t.Helper()
	return postForm(t, c, action, url.Values{
		"login_id": {submatch(t, loginIDRe, page)},
		"email":    {alice.Email},
		"password": {password},
	}, nil)
}

func TestSAMLBrowserSPInitiated(t *testing.T) {
	for _, prefix := range []string{"", "/testidp/saml"} {
		t.Run("base path "+prefix, func(t *testing.T) {
			idp, srv := newSAMLServer(t, SAMLOptions{BaseURL: prefix})
			sp := newSP(t, idp)
			c := browser(t)

			authn := func() (*saml.AuthnRequest, string) {
				req, err := sp.MakeAuthenticationRequest(idp.SSOURL(), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
				if err != nil {
					t.Fatal(err)
				}
				u, err := req.Redirect("relay-7", sp)
				if err != nil {
					t.Fatal(err)
				}
				return req, u.String()
			}

			req, u := authn()
			resp, page := get(t, c, u)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Gatehouse test IdP") || !strings.Contains(page, alice.Password) {
				t.Fatalf("login page: %s\n%s", resp.Status, page)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP = %q", csp)
			}
			action := srv.URL + prefix + "/login"

			resp, retry := login(t, c, action, page, "wrong")
			if resp.StatusCode != http.StatusOK || !strings.Contains(retry, "Incorrect email or password") {
				t.Fatalf("wrong password: %s\n%s", resp.Status, retry)
			}

			resp, post := login(t, c, action, retry, alice.Password)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %s\n%s", resp.Status, post)
			}
			if got := submatch(t, relayStateRe, post); got != "relay-7" {
				t.Errorf("RelayState = %q", got)
			}
			if !strings.Contains(post, `action="`+sp.AcsURL.String()+`"`) {
				t.Errorf("form does not post to the ACS:\n%s", post)
			}
			if _, err := parse(sp, submatch(t, samlResponseRe, post), req.ID); err != nil {
				t.Fatalf("SP rejected: %v", privateErr(err))
			}

			// The session cookie signs the next request in without a form.
			req, u = authn()
			_, post = get(t, c, u)
			if _, err := parse(sp, submatch(t, samlResponseRe, post), req.ID); err != nil {
				t.Fatalf("second login: SP rejected: %v", privateErr(err))
			}

			// The home page lists the SP; signing out ends the session.
			_, home := get(t, c, idp.LoginURL())
			if !strings.Contains(home, sp.EntityID) {
				t.Errorf("home page does not list the SP:\n%s", home)
			}
			resp, _ = postForm(t, c, srv.URL+prefix+"/logout", nil, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("logout: %s", resp.Status)
			}
			_, u = authn()
			if _, page = get(t, c, u); !loginIDRe.MatchString(page) {
				t.Error("still signed in after logout")
			}
		})
	}
}

func TestSAMLBrowserIdPInitiated(t *testing.T) {
	idp, srv := newSAMLServer(t, SAMLOptions{})
	sp := newSP(t, idp)
	sp.AllowIDPInitiated = true
	c := browser(t)

	_, page := get(t, c, idp.StartURL(sp.EntityID, "/dashboard"))
	_, post := login(t, c, srv.URL+"/login", page, alice.Password)
	if got := submatch(t, relayStateRe, post); got != "/dashboard" {
		t.Errorf("RelayState = %q", got)
	}
	if _, err := parse(sp, submatch(t, samlResponseRe, post)); err != nil {
		t.Fatalf("SP rejected: %v", privateErr(err))
	}

	// Signed in, the application list posts to /start.
	resp, post := postForm(t, c, srv.URL+"/start", url.Values{"sp": {sp.EntityID}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /start: %s\n%s", resp.Status, post)
	}
	if _, err := parse(sp, submatch(t, samlResponseRe, post)); err != nil {
		t.Fatalf("SP rejected: %v", privateErr(err))
	}

	resp, _ = get(t, c, idp.StartURL("https://nobody.example.test", ""))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown SP: %s", resp.Status)
	}
}

func TestSAMLBrowserRequestFlags(t *testing.T) {
	idp, srv := newSAMLServer(t, SAMLOptions{HideUsers: true})
	sp := newSP(t, idp)
	c := browser(t)
	redirect := func(mod func(*saml.AuthnRequest)) (*saml.AuthnRequest, string) {
		req, err := sp.MakeAuthenticationRequest(idp.SSOURL(), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		mod(req)
		u, err := req.Redirect("", sp)
		if err != nil {
			t.Fatal(err)
		}
		return req, u.String()
	}
	yes := true

	_, u := redirect(func(r *saml.AuthnRequest) { r.IsPassive = &yes })
	_, post := get(t, c, u)
	doc, err := DecodeResponse(submatch(t, samlResponseRe, post))
	if err != nil {
		t.Fatal(err)
	}
	if el := doc.FindElement("//StatusCode/StatusCode"); el == nil || el.SelectAttrValue("Value", "") != saml.StatusNoPassive {
		t.Errorf("IsPassive without a session did not answer NoPassive")
	}

	_, u = redirect(func(*saml.AuthnRequest) {})
	_, page := get(t, c, u)
	if strings.Contains(page, alice.Password) {
		t.Error("HideUsers: the login page shows a password")
	}
	login(t, c, srv.URL+"/login", page, alice.Password)

	// ForceAuthn shows the form again despite the session, and the login
	// satisfies it.
	req, u := redirect(func(r *saml.AuthnRequest) { r.ForceAuthn = &yes })
	_, page = get(t, c, u)
	_, post = login(t, c, srv.URL+"/login", page, alice.Password)
	if _, err := parse(sp, submatch(t, samlResponseRe, post), req.ID); err != nil {
		t.Fatalf("ForceAuthn: SP rejected: %v", privateErr(err))
	}
}

func TestSAMLLoginProtections(t *testing.T) {
	idp, srv := newSAMLServer(t, SAMLOptions{})
	c := browser(t)
	_, page := get(t, c, idp.LoginURL())
	id := submatch(t, loginIDRe, page)
	creds := url.Values{"login_id": {id}, "email": {alice.Email}, "password": {alice.Password}}

	resp, _ := postForm(t, c, srv.URL+"/login", creds, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %s, want 403", resp.Status)
	}
	resp, _ = postForm(t, c, srv.URL+"/login", url.Values{"login_id": {"forged"}, "email": {alice.Email}, "password": {alice.Password}}, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown login_id: %s, want 400", resp.Status)
	}
	resp, _ = postForm(t, c, srv.URL+"/login", creds, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	resp, _ = postForm(t, c, srv.URL+"/login", creds, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("reused login_id: %s, want 400", resp.Status)
	}
	resp, _ = get(t, c, srv.URL+"/users")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /users: %s, want 404 (no admin endpoints)", resp.Status)
	}
}

func TestSAMLMountedUnderPrefix(t *testing.T) {
	idp, srv := newSAMLServer(t, SAMLOptions{BaseURL: "/testidp/saml/"})
	if want := srv.URL + "/testidp/saml/metadata"; idp.MetadataURL() != want {
		t.Errorf("MetadataURL = %q, want %q", idp.MetadataURL(), want)
	}
	c := browser(t)
	if resp, _ := get(t, c, idp.MetadataURL()); resp.StatusCode != http.StatusOK {
		t.Errorf("metadata: %s", resp.Status)
	}
	if resp, _ := get(t, c, srv.URL+"/testidp/saml/"); resp.StatusCode != http.StatusOK {
		t.Errorf("home: %s", resp.Status)
	}
	if resp, _ := get(t, c, srv.URL+"/elsewhere"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("host app route: %s", resp.Status)
	}
}
