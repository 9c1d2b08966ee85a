// Package testidp provides in-process identity providers for Gatehouse's
// SSO tests and for the `gatehouse dev` demo: a SAML 2.0 IdP (SAMLIdP,
// built on github.com/crewjam/saml) and an OpenID Connect provider
// (OIDCProvider, hand-written so that it can misbehave on purpose).
//
// Both are http.Handlers that serve every endpoint under the path of their
// base URL. Mount them on another server without stripping the prefix:
//
//	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: "http://127.0.0.1:8080/testidp/saml"})
//	mux.Handle("/testidp/saml/", idp)
//
// or serve them alone behind httptest, whose URL is known only once the
// listener exists:
//
//	srv := httptest.NewUnstartedServer(nil)
//	op, err := testidp.NewOIDC("http://"+srv.Listener.Addr().String(), testidp.OIDCOptions{AutoApprove: true})
//	srv.Config.Handler = op
//	srv.Start()
//
// Besides browser flows (a login form listing the demo accounts, and
// IdP-initiated login), the SAML IdP builds signed responses without a
// browser (SAMLIdP.Response, with knobs for every attack in the catalogue,
// plus DecodeResponse/EncodeResponse to tamper with the XML), and the OIDC
// provider issues bad ID tokens and redirects on request (Faults).
//
// Nothing here is for production: passwords are kept in clear and shown
// on the login page, and state lives in memory only. There are no admin
// endpoints over HTTP; users, service providers and clients are added
// through the Go API.
package testidp
