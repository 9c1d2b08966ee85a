package saml_test

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
)

// TestAuthnRequestURLMatchesCrewjam proves that the pooled HTTP-Redirect
// encoding of an unsigned AuthnRequest carries exactly the XML, parameters
// and parameter order that crewjam's own Redirect produces.
func TestAuthnRequestURLMatchesCrewjam(t *testing.T) {
	idp := newIdP(t)
	clock := dsig.NewFakeClockAt(time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC))
	for _, tc := range []struct{ name, ssoURL, relay string }{
		{"plain SSO URL", idp.SSOURL(), "_relay123"},
		{"SSO URL with its own query", idp.SSOURL() + "?tenant=a%20b&x=1", "_relay123"},
		{"no RelayState", idp.SSOURL(), ""},
		{"RelayState needing escapes", idp.SSOURL(), "a b&c=d/é"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := ssosaml.NewServiceProvider(ssosaml.Config{
				EntityID: spEntity, ACSURL: spACS, MetadataURL: spEntity, IdPEntityID: idp.EntityID(), IdPSSOURL: tc.ssoURL,
				Certificates: []*x509.Certificate{idp.KeyPair().Certificate}, Clock: clock,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ssosaml.AuthnRequestURL(sp, "_req1", tc.relay)
			if err != nil {
				t.Fatal(err)
			}
			req, err := sp.MakeAuthenticationRequest(tc.ssoURL, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
			if err != nil {
				t.Fatal(err)
			}
			req.ID = "_req1"
			want, err := req.Redirect(tc.relay, sp)
			if err != nil {
				t.Fatal(err)
			}
			g, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if g.Scheme != want.Scheme || g.Host != want.Host || g.Path != want.Path {
				t.Fatalf("destination %s, want %s", got, want)
			}
			gm, wm := g.Query().Get("SAMLRequest"), want.Query().Get("SAMLRequest")
			if gx, wx := inflate(t, gm), inflate(t, wm); !bytes.Equal(gx, wx) {
				t.Fatalf("AuthnRequest differs:\n got %s\nwant %s", gx, wx)
			}
			// Same parameters in the same order, the destination's own first.
			gr := strings.Replace(g.RawQuery, url.QueryEscape(gm), "M", 1)
			wr := strings.Replace(want.RawQuery, url.QueryEscape(wm), "M", 1)
			if gr != wr {
				t.Fatalf("query %q, want %q", gr, wr)
			}
		})
	}
}

func inflate(t *testing.T, b64 string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInResponseTo covers the unverified look-up of the login a response
// answers, which reads only the root element's start tag.
func TestInResponseTo(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"SP-initiated", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" InResponseTo="_req1"><x/></samlp:Response>`, "_req1"},
		{"IdP-initiated", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><x/></samlp:Response>`, ""},
		{"after a declaration and a comment", `<?xml version="1.0"?><!-- c --><Response InResponseTo="_req2"/>`, "_req2"},
		{"only the root's", `<Response><Assertion InResponseTo="_inner"/></Response>`, ""},
		{"not XML", `not xml at all`, ""},
		{"empty", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ssosaml.InResponseTo([]byte(tc.doc)); got != tc.want {
				t.Fatalf("InResponseTo = %q, want %q", got, tc.want)
			}
		})
	}
}
