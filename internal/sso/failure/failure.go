// Package failure is the catalogue of reasons an SSO login can fail: a
// stable code recorded on authentication.sso_failed events (error.code),
// with a plain-language explanation and the fix, which the sign-in error
// page and the event show. The SAML and OIDC packages return *Error so
// that every rejection carries one of these codes.
package failure

import (
	"errors"
	"fmt"
)

// Code identifies a failure reason.
type Code string

// The failure reasons.
const (
	// Request and routing.
	InvalidRequest      Code = "invalid_request"
	ClientInvalid       Code = "client_invalid"
	RedirectURIInvalid  Code = "redirect_uri_invalid"
	ConnectionInvalid   Code = "connection_invalid"
	ConnectionInactive  Code = "connection_inactive"
	RequestUnknown      Code = "request_unknown"
	BrowserMismatch     Code = "browser_mismatch"
	IdPInitiatedOff     Code = "idp_initiated_disabled"
	ProfileIncomplete   Code = "profile_incomplete"
	IdPUnreachable      Code = "idp_unreachable"
	InternalError       Code = "internal_error"
	ResponseMissing     Code = "response_missing"
	ResponseTooLarge    Code = "response_too_large"
	MalformedResponse   Code = "malformed_response"
	DoctypeForbidden    Code = "doctype_forbidden"
	CommentForbidden    Code = "comment_forbidden"
	MultipleAssertions  Code = "multiple_assertions"
	SignatureMissing    Code = "signature_missing"
	SignatureInvalid    Code = "signature_invalid"
	CertificateUnknown  Code = "certificate_unknown"
	CertificateExpired  Code = "certificate_expired"
	SHA1Forbidden       Code = "sha1_forbidden"
	IssuerMismatch      Code = "issuer_mismatch"
	AudienceMismatch    Code = "audience_mismatch"
	DestinationMismatch Code = "destination_mismatch"
	ResponseExpired     Code = "response_expired"
	ResponseNotYetValid Code = "response_not_yet_valid"
	InResponseTo        Code = "in_response_to_mismatch"
	Replayed            Code = "replayed"
	IdPErrorStatus      Code = "idp_error_status"
	DecryptionFailed    Code = "decryption_failed"
	NotEncrypted        Code = "assertion_not_encrypted"
	StateInvalid        Code = "state_invalid"
	NonceMismatch       Code = "nonce_mismatch"
	AlgorithmForbidden  Code = "algorithm_forbidden"
	TokenExchange       Code = "token_exchange_failed"
	IssParameter        Code = "iss_parameter_mismatch"
	UserinfoMismatch    Code = "userinfo_subject_mismatch"
)

// Reason is what an admin is shown for a code.
type Reason struct {
	Title       string // one line, shown first
	Explanation string // what happened, in plain language
	Fix         string // what the admin should do
}

// Catalogue holds every code's reason. Keep it in step with the constants.
var Catalogue = map[Code]Reason{
	InvalidRequest: {"The sign-in request was not valid",
		"The application sent a sign-in request with a missing or conflicting parameter.",
		"Check the parameters your application passes to /sso/authorize (exactly one of connection, organization, provider, domain_hint or login_hint)."},
	ClientInvalid: {"The sign-in request has no valid client_id",
		"The application's link to /sso/authorize must carry this Gatehouse's client ID; without it Gatehouse cannot tell which application asked, so it does not send the browser back.",
		"Pass the client ID that Gatehouse prints at start (client_…, or the value of GATEHOUSE_CLIENT_ID) as client_id, e.g. workos.WithClientID in the Go SDK or clientId in the Node SDK."},
	RedirectURIInvalid: {"The redirect URI is not allowed",
		"The sign-in request's redirect_uri is missing or not on this Gatehouse's allow-list, so Gatehouse does not send the browser, or a code, there.",
		"Add the exact URI to the allow-list with POST /redirect_uris {\"uri\": \"…\"} or the GATEHOUSE_REDIRECT_URIS setting (comma-separated), and pass that URI as redirect_uri; matching is exact, including the scheme, port, path and trailing slash."},
	ConnectionInvalid: {"No usable SSO connection",
		"No active SSO connection matched the request.",
		"Create a connection for the organization and finish its setup so that it becomes active."},
	ConnectionInactive: {"The SSO connection is not active",
		"The connection is still a draft or was deactivated, so it cannot sign users in.",
		"Finish the connection's setup (IdP entity ID, SSO URL and a valid signing certificate, or OIDC discovery) or reactivate it."},
	RequestUnknown: {"The sign-in attempt expired or is unknown",
		"The identity provider answered a sign-in that Gatehouse did not start, that took longer than 10 minutes, or that was already completed.",
		"Start the sign-in again from the application. If the IdP sends RelayState values of its own, enable IdP-initiated login for this connection."},
	BrowserMismatch: {"The sign-in was finished in another browser",
		"The identity provider's answer reached a browser that did not start this sign-in, or came without the short-lived cookie Gatehouse set when the sign-in started (cookies blocked, or a plain-http Gatehouse with the identity provider on another site). Gatehouse refuses it so that nobody can sign someone else's browser in to their own account (login CSRF).",
		"Start the sign-in again from the application, in the same browser, with cookies allowed for Gatehouse. Serve Gatehouse over https (GATEHOUSE_BASE_URL=https://…): browsers send the cookie with a SAML identity provider's cross-site POST only then. Users who start at the identity provider need allow_idp_initiated on the connection."},
	IdPInitiatedOff: {"IdP-initiated sign-in is turned off",
		"The identity provider sent an unsolicited response, and this connection accepts only sign-ins started by the application.",
		"Start sign-in from the application, or enable allow_idp_initiated on the connection."},
	ProfileIncomplete: {"The identity provider sent no email address",
		"The assertion or ID token carries no email attribute and no NameID that is an email address.",
		"Map an email attribute (named email, or the standard claim URI) in the identity provider's application settings."},
	IdPUnreachable: {"The identity provider could not be reached",
		"Gatehouse could not fetch the IdP metadata, discovery document or token endpoint.",
		"Check the metadata URL or issuer, and that Gatehouse can reach it over the network."},
	InternalError: {"Internal error",
		"Gatehouse could not complete the sign-in because of an internal problem.",
		"Try again; if it persists, check Gatehouse's logs for the request ID."},
	ResponseMissing: {"No SAML response was received",
		"The request to the assertion consumer service carried no SAMLResponse.",
		"Configure the identity provider to use the HTTP-POST binding for the ACS URL."},
	ResponseTooLarge: {"The SAML response is too large",
		"The SAML response exceeds Gatehouse's size limit.",
		"Reduce the attributes or groups the identity provider sends."},
	MalformedResponse: {"The SAML response could not be read",
		"The SAML response is not valid base64 or XML, or does not follow the SAML schema.",
		"Check that the identity provider sends a standard SAML 2.0 Response with the HTTP-POST binding."},
	DoctypeForbidden: {"The SAML response contains a DOCTYPE",
		"Document type declarations (and entity definitions) are refused because they enable XXE and entity-expansion attacks.",
		"Identity providers never need a DOCTYPE; this response was probably forged."},
	CommentForbidden: {"The SAML response contains XML comments",
		"Comments inside a signed SAML message are refused: they are the tool of the comment-injection attack (CVE-2017-11427 class), which truncates a NameID or email without breaking the signature.",
		"Identity providers do not put comments in responses; this response was probably tampered with."},
	MultipleAssertions: {"The SAML response has more than one assertion",
		"Exactly one assertion is accepted; several are a sign of an assertion-injection attack.",
		"Configure the identity provider to send a single assertion."},
	SignatureMissing: {"The SAML response is not signed",
		"Neither the response nor the assertion carries a signature.",
		"Enable signing of the assertion (or the response) in the identity provider."},
	SignatureInvalid: {"The signature is not valid",
		"The signature does not match the signed content: the message was altered, or its structure was rearranged (signature wrapping).",
		"If this happens for real sign-ins, re-download the IdP metadata; otherwise the response was tampered with."},
	CertificateUnknown: {"Signed with an unknown certificate",
		"The response is signed with a certificate that is not among this connection's IdP certificates.",
		"Add the identity provider's current signing certificate to the connection (or refresh its metadata)."},
	CertificateExpired: {"The signing certificate is expired",
		"The identity provider signed with a certificate outside its validity period.",
		"Rotate the signing certificate in the identity provider and add the new one to the connection."},
	SHA1Forbidden: {"SHA-1 signatures are refused",
		"The response is signed with RSA-SHA1 or uses SHA-1 digests, which are no longer safe.",
		"Set the identity provider's signature algorithm to RSA-SHA256."},
	IssuerMismatch: {"Unexpected issuer",
		"The issuer of the response or token is not this connection's identity provider.",
		"Check the IdP entity ID (or OIDC issuer) configured on the connection."},
	AudienceMismatch: {"Wrong audience",
		"The assertion or ID token is meant for another service provider or client.",
		"Set the audience / SP entity ID (or the OIDC client ID) in the identity provider to the value Gatehouse shows."},
	DestinationMismatch: {"Wrong destination or recipient",
		"The response was addressed to another ACS URL.",
		"Set the ACS URL in the identity provider to the one Gatehouse shows for this connection."},
	ResponseExpired: {"The response is expired",
		"The response or token is past its validity window.",
		"Check that the clocks of the identity provider and Gatehouse are correct, then sign in again."},
	ResponseNotYetValid: {"The response is not valid yet",
		"The SAML response's NotBefore, or the OIDC ID token's iat or nbf, is in the future (beyond the allowed clock skew of 60 seconds).",
		"Check that the clocks of the identity provider and Gatehouse are synchronised (NTP)."},
	InResponseTo: {"The response answers another request",
		"The response's InResponseTo does not match the sign-in request Gatehouse sent.",
		"Start the sign-in again; if it persists, the identity provider is answering stale requests."},
	Replayed: {"The response was already used",
		"This assertion was already used to sign in; each may be used once.",
		"Start a new sign-in. Repeated occurrences indicate a replay attack."},
	IdPErrorStatus: {"The identity provider reported an error",
		"The identity provider answered with an error status instead of signing the user in.",
		"Check that the user is assigned to the application in the identity provider and read the IdP's logs."},
	DecryptionFailed: {"The assertion could not be decrypted",
		"The encrypted assertion is not encrypted to this connection's SP certificate, or uses an unsupported algorithm.",
		"Upload the SP certificate Gatehouse shows to the identity provider's encryption settings."},
	NotEncrypted: {"The assertion is not encrypted",
		"This connection requires encrypted assertions, and the response carried a plain one.",
		"Enable assertion encryption in the identity provider, or turn off encrypt_assertions."},
	StateInvalid: {"The state parameter is invalid",
		"The OIDC callback's state is unknown, expired, already used or belongs to another connection.",
		"Start the sign-in again from the application."},
	NonceMismatch: {"The ID token's nonce does not match",
		"The ID token was issued for another sign-in (nonce mismatch), which indicates a replay.",
		"Start the sign-in again."},
	AlgorithmForbidden: {"Forbidden signing algorithm",
		"The ID token is unsigned (alg none) or signed with an algorithm that is not accepted (for example HS256).",
		"Configure the OIDC provider to sign ID tokens with RS256 or ES256."},
	TokenExchange: {"The code exchange with the OIDC provider failed",
		"The provider refused to exchange the authorization code for tokens.",
		"Check the client ID and secret configured on the connection and the redirect URI registered at the provider."},
	IssParameter: {"The authorization response came from another issuer",
		"The iss parameter of the authorization response (RFC 9207) does not match the connection's issuer: a mix-up attack or misconfiguration.",
		"Check the issuer configured on the connection."},
	UserinfoMismatch: {"Userinfo belongs to another user",
		"The userinfo endpoint returned a subject different from the ID token's.",
		"Check the OIDC provider's configuration."},
}

// Error is an SSO failure with its reason code. Its message is safe to show
// to users; the cause is for logs.
type Error struct {
	Code   Code
	Detail string // extra context shown with the reason, may be empty
	// Fix, when set, replaces the catalogue's fix for this occurrence: one
	// code can have several causes, and the fix shown must fit the cause.
	Fix string
	Err error
}

// Error returns the reason, detail and cause, for logs.
func (e *Error) Error() string {
	msg := string(e.Code)
	if r, ok := Catalogue[e.Code]; ok {
		msg = r.Title
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Message returns the user-facing description: title and detail, no cause.
func (e *Error) Message() string {
	msg := Catalogue[e.Code].Title
	if msg == "" {
		msg = string(e.Code)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Reason returns the catalogue's reason for the code, with the
// occurrence's own fix when it has one.
func (e *Error) Reason() Reason {
	r, ok := Catalogue[e.Code]
	if !ok {
		r = Reason{Title: string(e.Code)}
	}
	if e.Fix != "" {
		r.Fix = e.Fix
	}
	return r
}

// WithFix sets the occurrence's fix and returns e.
func (e *Error) WithFix(fix string) *Error {
	e.Fix = fix
	return e
}

// New returns an *Error with code wrapping err.
func New(code Code, err error) *Error { return &Error{Code: code, Err: err} }

// Newf returns an *Error with code and a formatted detail.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, or InternalError when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return InternalError
}

// As returns the *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
