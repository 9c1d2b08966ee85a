package scim

import "strings"

// Schema URNs.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaListResp   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaSPConfig   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResType    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Attribute is one attribute of a schema (RFC 7643 §7). The same table
// validates requests and is served at /Schemas.
type Attribute struct {
	Name        string      `json:"name"`
	Type        string      `json:"type"`
	MultiValued bool        `json:"multiValued"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required"`
	CaseExact   bool        `json:"caseExact"`
	Mutability  string      `json:"mutability"`
	Returned    string      `json:"returned"`
	Uniqueness  string      `json:"uniqueness"`
	SubAttrs    []Attribute `json:"subAttributes,omitempty"`
	Canonical   []string    `json:"canonicalValues,omitempty"`
	RefTypes    []string    `json:"referenceTypes,omitempty"`
}

func str(name string) Attribute {
	return Attribute{Name: name, Type: "string", Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func boolean(name string) Attribute {
	return Attribute{Name: name, Type: "boolean", Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func ref(name string, types ...string) Attribute {
	return Attribute{Name: name, Type: "reference", Mutability: "readWrite", Returned: "default", Uniqueness: "none", CaseExact: true, RefTypes: types}
}

// canonical sets the values an attribute takes (RFC 7643 §2.3.1).
func canonical(a Attribute, values ...string) Attribute {
	a.Canonical = values
	return a
}

func complexAttr(name string, multi bool, subs ...Attribute) Attribute {
	return Attribute{Name: name, Type: "complex", MultiValued: multi, Mutability: "readWrite", Returned: "default", Uniqueness: "none", SubAttrs: subs}
}

func multiValue(name string, extra ...Attribute) Attribute {
	subs := append([]Attribute{str("value"), str("display"), str("type"), boolean("primary")}, extra...)
	return complexAttr(name, true, subs...)
}

// userAttrs is the core User schema (RFC 7643 §4.1).
var userAttrs = []Attribute{
	func() Attribute {
		a := str("userName")
		a.Required, a.Uniqueness = true, "server"
		return a
	}(),
	complexAttr("name", false, str("formatted"), str("familyName"), str("givenName"), str("middleName"),
		str("honorificPrefix"), str("honorificSuffix")),
	str("displayName"), str("nickName"), ref("profileUrl", "external"), str("title"), str("userType"),
	str("preferredLanguage"), str("locale"), str("timezone"), boolean("active"),
	func() Attribute {
		a := str("password")
		a.Mutability, a.Returned = "writeOnly", "never"
		return a
	}(),
	multiValue("emails"), multiValue("phoneNumbers"), multiValue("ims"), multiValue("photos"),
	complexAttr("addresses", true, str("formatted"), str("streetAddress"), str("locality"), str("region"),
		str("postalCode"), str("country"), str("type"), boolean("primary")),
	func() Attribute {
		// Every group a user is listed in holds the user directly (Google's
		// nested groups are flattened), so "direct" is the one type served.
		a := complexAttr("groups", true, str("value"), ref("$ref", "Group"), str("display"), canonical(str("type"), "direct"))
		a.Mutability = "readOnly"
		for i := range a.SubAttrs {
			a.SubAttrs[i].Mutability = "readOnly"
		}
		return a
	}(),
	multiValue("entitlements"), multiValue("roles"), multiValue("x509Certificates"),
}

// enterpriseAttrs is the enterprise User extension (RFC 7643 §4.3).
var enterpriseAttrs = []Attribute{
	str("employeeNumber"), str("costCenter"), str("organization"), str("division"), str("department"),
	complexAttr("manager", false, str("value"), ref("$ref", "User"), func() Attribute {
		a := str("displayName")
		a.Mutability = "readOnly"
		return a
	}()),
}

// groupAttrs is the core Group schema (RFC 7643 §4.2). Members are users
// only: nested groups are refused (membersOf), so "Group" is not offered
// as a member type (RFC 7643 §8.7.1 lists "User" and "Group").
var groupAttrs = []Attribute{
	func() Attribute {
		a := str("displayName")
		a.Required = true
		return a
	}(),
	complexAttr("members", true, func() Attribute {
		a := str("value")
		a.Mutability = "immutable"
		return a
	}(), ref("$ref", "User"), str("display"), canonical(str("type"), "User")),
}

// commonAttrs are on every resource (RFC 7643 §3.1).
var commonAttrs = []Attribute{
	func() Attribute {
		a := str("id")
		a.Mutability, a.Returned, a.CaseExact, a.Uniqueness = "readOnly", "always", true, "server"
		return a
	}(),
	func() Attribute {
		a := str("externalId")
		a.CaseExact = true
		return a
	}(),
	func() Attribute {
		a := complexAttr("meta", false, str("resourceType"), Attribute{Name: "created", Type: "dateTime"},
			Attribute{Name: "lastModified", Type: "dateTime"}, ref("location", "uri"), str("version"))
		a.Mutability = "readOnly"
		return a
	}(),
}

// findAttr looks an attribute up by name, case-insensitively as RFC 7643
// §2.1 requires.
func findAttr(attrs []Attribute, name string) (Attribute, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Attribute{}, false
}

// resourceSchema is a resource type's core attributes and extensions.
type resourceSchema struct {
	core       string
	attrs      []Attribute
	extensions map[string][]Attribute
}

var (
	userSchema  = resourceSchema{core: SchemaUser, attrs: append(append([]Attribute{}, commonAttrs...), userAttrs...), extensions: map[string][]Attribute{SchemaEnterprise: enterpriseAttrs}}
	groupSchema = resourceSchema{core: SchemaGroup, attrs: append(append([]Attribute{}, commonAttrs...), groupAttrs...)}
)

// extension returns the canonical URN of a known extension named
// case-insensitively.
func (rs resourceSchema) extension(urn string) (string, []Attribute, bool) {
	for u, attrs := range rs.extensions {
		if strings.EqualFold(u, urn) {
			return u, attrs, true
		}
	}
	return "", nil, false
}
