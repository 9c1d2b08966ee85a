package sso

import "github.com/gatehouse-dev/gatehouse/internal/store"

// Attribute names that IdPs commonly use, in the order they are tried.
var (
	emailAttrs = []string{"email", "Email", "mail", "emailAddress", "emailaddress",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		"urn:oid:0.9.2342.19200300.100.1.3", "User.email", "user.email"}
	firstNameAttrs = []string{"firstName", "first_name", "givenName", "given_name", "firstname",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42", "User.FirstName"}
	lastNameAttrs = []string{"lastName", "last_name", "surname", "sn", "familyName", "family_name", "lastname",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4", "User.LastName"}
	nameAttrs = []string{"name", "displayName", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"http://schemas.microsoft.com/identity/claims/displayname", "urn:oid:2.16.840.1.113730.3.1.241"}
	groupAttrs = []string{"groups", "memberOf", "Groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
		"http://schemas.xmlsoap.org/claims/Group", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"}
)

// AttributeMapping names, per profile field, the IdP attributes (SAML) or
// claims (OIDC) to read, first match wins. The SAML idp_id is the NameID
// and the OIDC idp_id is sub unless IdPID names an attribute.
type AttributeMapping struct {
	IdPID     []string `json:"idp_id,omitempty"`
	Email     []string `json:"email"`
	FirstName []string `json:"first_name"`
	LastName  []string `json:"last_name"`
	Name      []string `json:"name"`
	Groups    []string `json:"groups"`
}

// Preset is everything Gatehouse knows about one
// connection type: its protocol, how to read its profile and how an admin
// sets it up.
type Preset struct {
	Type        string           `json:"connection_type"`
	DisplayName string           `json:"display_name"`
	Protocol    string           `json:"protocol"`
	Attributes  AttributeMapping `json:"attribute_mapping"`
	// SetupSteps are the admin's instructions, in order. {acs_url},
	// {sp_entity_id}, {sp_metadata_url} and {redirect_uri} are replaced by
	// the connection's values when rendered.
	SetupSteps []string `json:"setup_steps"`
}

// samlMapping puts a preset's own names before the generic ones.
func samlMapping(email, first, last, groups []string) AttributeMapping {
	return AttributeMapping{
		Email:     append(email, emailAttrs...),
		FirstName: append(first, firstNameAttrs...),
		LastName:  append(last, lastNameAttrs...),
		Name:      nameAttrs,
		Groups:    append(groups, groupAttrs...),
	}
}

var oidcMapping = AttributeMapping{
	Email:     []string{"email", "preferred_username", "upn"},
	FirstName: []string{"given_name"},
	LastName:  []string{"family_name"},
	Name:      []string{"name"},
	Groups:    []string{"groups", "roles"},
}

var genericSAMLSteps = []string{
	"In your identity provider, create a new SAML 2.0 application for this service.",
	"Set the Assertion Consumer Service (ACS / Single sign-on) URL to {acs_url}.",
	"Set the Audience URI / SP Entity ID to {sp_entity_id}.",
	"Set the Name ID format to EmailAddress (or Persistent) and sign the assertion or response with RSA-SHA256.",
	"Add the attribute statements email, firstName, lastName and (optionally) groups.",
	"Assign the users or groups who should be able to sign in.",
	"Give Gatehouse the IdP metadata URL, or upload the metadata XML, or enter the IdP SSO URL, entity ID and signing certificate.",
}

// Presets lists every supported connection type.
var Presets = map[string]Preset{
	"GenericSAML": {Type: "GenericSAML", DisplayName: "Custom SAML 2.0", Protocol: store.ProtocolSAML,
		Attributes: samlMapping(nil, nil, nil, nil), SetupSteps: genericSAMLSteps},
	"OktaSAML": {Type: "OktaSAML", DisplayName: "Okta SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"email"}, []string{"firstName"}, []string{"lastName"}, []string{"groups"}),
		SetupSteps: []string{
			"In the Okta Admin Console, go to Applications → Applications → Create App Integration and choose SAML 2.0.",
			"Single sign-on URL: {acs_url} (keep \"Use this for Recipient URL and Destination URL\" checked).",
			"Audience URI (SP Entity ID): {sp_entity_id}. Name ID format: EmailAddress; Application username: Email.",
			"Attribute Statements: email → user.email, firstName → user.firstName, lastName → user.lastName.",
			"Group Attribute Statements (optional): groups, filter Matches regex .*",
			"Finish, then on the Sign On tab copy the Metadata URL and give it to Gatehouse.",
			"Assign the people or groups who should sign in on the Assignments tab.",
		}},
	"AzureSAML": {Type: "AzureSAML", DisplayName: "Microsoft Entra ID (Azure AD) SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping(
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"},
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"},
			[]string{"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"}),
		SetupSteps: []string{
			"In the Microsoft Entra admin center, go to Enterprise applications → New application → Create your own application (non-gallery).",
			"Open Single sign-on and choose SAML.",
			"Basic SAML Configuration: Identifier (Entity ID) {sp_entity_id}; Reply URL (ACS URL) {acs_url}.",
			"Attributes & Claims: keep emailaddress, givenname and surname; add a group claim if you need groups.",
			"Copy the App Federation Metadata Url from SAML Certificates and give it to Gatehouse.",
			"Assign users and groups under Users and groups.",
		}},
	"GoogleSAML": {Type: "GoogleSAML", DisplayName: "Google Workspace SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"email"}, []string{"firstName"}, []string{"lastName"}, []string{"groups"}),
		SetupSteps: []string{
			"In the Google Admin console, go to Apps → Web and mobile apps → Add app → Add custom SAML app.",
			"Download the IdP metadata (Option 2) and upload it to Gatehouse.",
			"Service provider details: ACS URL {acs_url}; Entity ID {sp_entity_id}; Name ID format EMAIL; Name ID Basic Information → Primary email.",
			"Attribute mapping: First name → firstName, Last name → lastName, Primary email → email; Group membership → groups (optional).",
			"Turn the app ON for the organizational units that should sign in.",
		}},
	"ADFSSAML": {Type: "ADFSSAML", DisplayName: "Microsoft AD FS SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping(
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"},
			[]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"},
			[]string{"http://schemas.xmlsoap.org/claims/Group"}),
		SetupSteps: []string{
			"In AD FS Management, add a Relying Party Trust and import the data from {sp_metadata_url}.",
			"Add a claim issuance rule \"Send LDAP Attributes as Claims\": E-Mail-Addresses → E-Mail Address, Given-Name → Given Name, Surname → Surname, Token-Groups → Group.",
			"Add a \"Transform an Incoming Claim\" rule: E-Mail Address → Name ID (Email format).",
			"Set the secure hash algorithm of the trust to SHA-256.",
			"Give Gatehouse https://<your-adfs>/FederationMetadata/2007-06/FederationMetadata.xml.",
		}},
	"OneLoginSAML": {Type: "OneLoginSAML", DisplayName: "OneLogin SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"User.email"}, []string{"User.FirstName"}, []string{"User.LastName"}, []string{"memberOf"}),
		SetupSteps: []string{
			"In OneLogin, go to Applications → Add App and choose \"SAML Custom Connector (Advanced)\".",
			"Configuration: Audience (EntityID) {sp_entity_id}; Recipient and ACS (Consumer) URL {acs_url}; ACS URL Validator: the ACS URL with regex escaping.",
			"SAML signature element: Both; SAML initiator: Service Provider (or OneLogin for IdP-initiated).",
			"Parameters: add email, firstName, lastName (and groups) with \"Include in SAML assertion\".",
			"Copy the Issuer URL from SSO and give it to Gatehouse as the metadata URL.",
		}},
	"JumpCloudSAML": {Type: "JumpCloudSAML", DisplayName: "JumpCloud SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"email"}, []string{"firstname"}, []string{"lastname"}, []string{"memberOf"}),
		SetupSteps: []string{
			"In the JumpCloud console, go to SSO Applications → Add New Application → Custom SAML App.",
			"IdP Entity ID: any unique value; SP Entity ID: {sp_entity_id}; ACS URL: {acs_url}.",
			"SAMLSubject NameID: email; Signature Algorithm: RSA-SHA256; sign the Assertion.",
			"User attributes: email → email, firstname → firstname, lastname → lastname; enable Group Attributes as memberOf (optional).",
			"Save, export the metadata and upload it to Gatehouse; bind the app to user groups.",
		}},
	"PingFederateSAML": {Type: "PingFederateSAML", DisplayName: "PingFederate SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"email"}, []string{"firstName"}, []string{"lastName"}, []string{"memberOf"}),
		SetupSteps: []string{
			"In PingFederate, create an SP Connection using the Browser SSO profile, importing {sp_metadata_url}.",
			"Select SAML 2.0, IdP-initiated and SP-initiated SSO, the POST binding to {acs_url}.",
			"Attribute contract: SAML_SUBJECT (email), email, firstName, lastName, memberOf.",
			"Sign the assertion with RSA-SHA256 and export the IdP metadata for Gatehouse.",
		}},
	"KeycloakSAML": {Type: "KeycloakSAML", DisplayName: "Keycloak SAML", Protocol: store.ProtocolSAML,
		Attributes: samlMapping([]string{"email"}, []string{"firstName"}, []string{"lastName"}, []string{"groups", "Role"}),
		SetupSteps: []string{
			"In the Keycloak admin console, open your realm → Clients → Create client, type SAML, Client ID {sp_entity_id}.",
			"Valid redirect URIs and Master SAML Processing URL: {acs_url}; Name ID format: email; sign assertions with RSA_SHA256.",
			"Client scopes → dedicated scope → add mappers: User Property email → email, firstName → firstName, lastName → lastName; Group list → groups.",
			"Give Gatehouse https://<keycloak>/realms/<realm>/protocol/saml/descriptor as the metadata URL.",
		}},
	"GenericOIDC": {Type: "GenericOIDC", DisplayName: "Custom OpenID Connect", Protocol: store.ProtocolOIDC,
		Attributes: oidcMapping,
		SetupSteps: []string{
			"In your OpenID provider, register a web application (confidential client) using the authorization code flow.",
			"Set the redirect (callback) URI to {redirect_uri}.",
			"Allow the scopes openid, profile and email.",
			"Give Gatehouse the issuer URL (its /.well-known/openid-configuration must be reachable), the client ID and the client secret.",
		}},
	"OktaOIDC": {Type: "OktaOIDC", DisplayName: "Okta OIDC", Protocol: store.ProtocolOIDC,
		Attributes: oidcMapping,
		SetupSteps: []string{
			"In the Okta Admin Console, go to Applications → Create App Integration → OIDC → Web Application.",
			"Sign-in redirect URI: {redirect_uri}; Grant type: Authorization Code.",
			"Assign the people or groups who should sign in.",
			"Give Gatehouse the issuer https://<your-okta-domain> (or your authorization server's issuer), the client ID and the client secret.",
		}},
	"EntraIdOIDC": {Type: "EntraIdOIDC", DisplayName: "Microsoft Entra ID OIDC", Protocol: store.ProtocolOIDC,
		Attributes: oidcMapping,
		SetupSteps: []string{
			"In the Microsoft Entra admin center, go to App registrations → New registration (Web platform).",
			"Redirect URI: {redirect_uri}.",
			"Certificates & secrets → New client secret; copy its value.",
			"Token configuration: add the optional claims email, given_name and family_name (and groups if needed).",
			"Give Gatehouse the issuer https://login.microsoftonline.com/<tenant-id>/v2.0, the Application (client) ID and the secret.",
		}},
	"GoogleOIDC": {Type: "GoogleOIDC", DisplayName: "Google OIDC", Protocol: store.ProtocolOIDC,
		Attributes: oidcMapping,
		SetupSteps: []string{
			"In the Google Cloud console, go to APIs & Services → Credentials → Create credentials → OAuth client ID → Web application.",
			"Authorized redirect URI: {redirect_uri}.",
			"Give Gatehouse the issuer https://accounts.google.com, the client ID and the client secret.",
		}},
}
