package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// object is a SCIM resource or complex value as decoded JSON.
type object = map[string]any

// lookup returns the key of m that equals name case-insensitively.
func lookup(m object, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

// normalize validates a resource against its schema and returns it with
// known attribute names in their canonical case, values of the declared
// types (Entra's "True"/"False" strings become booleans), read-only
// attributes and passwords dropped, and unknown attributes kept as sent.
func normalize(rs resourceSchema, in object) (object, error) {
	out := object{}
	for k, v := range in {
		switch {
		case strings.EqualFold(k, "schemas"), strings.EqualFold(k, "id"), strings.EqualFold(k, "meta"),
			strings.EqualFold(k, "password"):
			continue
		}
		if urn, attrs, ok := rs.extension(k); ok {
			if v == nil {
				continue
			}
			ext, ok := v.(object)
			if !ok {
				return nil, badRequest(TypeInvalidValue, "%s must be an object.", urn)
			}
			n, err := normalizeAttrs(urn+":", attrs, ext)
			if err != nil {
				return nil, err
			}
			if len(n) > 0 {
				out[urn] = n
			}
			continue
		}
		if strings.HasPrefix(strings.ToLower(k), "urn:") {
			if v != nil {
				out[k] = v
			}
			continue
		}
		a, ok := findAttr(rs.attrs, k)
		if !ok {
			if v != nil {
				out[k] = v
			}
			continue
		}
		if a.Mutability == "readOnly" {
			continue
		}
		cv, err := coerce(a.Name, a, v)
		if err != nil {
			return nil, err
		}
		if cv != nil {
			out[a.Name] = cv
		}
	}
	return out, nil
}

func normalizeAttrs(prefix string, attrs []Attribute, in object) (object, error) {
	out := object{}
	for k, v := range in {
		a, ok := findAttr(attrs, k)
		if !ok {
			if v != nil {
				out[k] = v
			}
			continue
		}
		if a.Mutability == "readOnly" {
			continue
		}
		cv, err := coerce(prefix+a.Name, a, v)
		if err != nil {
			return nil, err
		}
		if cv != nil {
			out[a.Name] = cv
		}
	}
	return out, nil
}

// coerce checks v against a and converts what IdPs send loosely. A nil
// result means "unassigned".
func coerce(path string, a Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			if o, isObj := v.(object); isObj && a.Type == "complex" {
				list = []any{o} // a single value where a list belongs
			} else {
				return nil, badRequest(TypeInvalidValue, "%s must be an array.", path)
			}
		}
		out := make([]any, 0, len(list))
		one := a
		one.MultiValued = false
		for _, e := range list {
			ce, err := coerce(path, one, e)
			if err != nil {
				return nil, err
			}
			if ce != nil {
				out = append(out, ce)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		if a.Type == "complex" {
			out = dedupeValues(out)
			onePrimary(out)
		}
		return out, nil
	}
	switch a.Type {
	case "complex":
		o, ok := v.(object)
		if !ok {
			return nil, badRequest(TypeInvalidValue, "%s must be an object.", path)
		}
		n, err := normalizeAttrs(path+".", a.SubAttrs, o)
		if err != nil {
			return nil, err
		}
		if len(n) == 0 {
			return nil, nil
		}
		return n, nil
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, badRequest(TypeInvalidValue, "%s must be a boolean.", path)
	case "string", "reference", "dateTime", "binary":
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(TypeInvalidValue, "%s must be a string.", path)
		}
		return s, nil
	case "integer", "decimal":
		if _, ok := v.(float64); !ok {
			return nil, badRequest(TypeInvalidValue, "%s must be a number.", path)
		}
		return v, nil
	}
	return v, nil
}

func getString(m object, name string) string {
	if k, ok := lookup(m, name); ok {
		s, _ := m[k].(string)
		return s
	}
	return ""
}

func getObject(m object, name string) object {
	if k, ok := lookup(m, name); ok {
		o, _ := m[k].(object)
		return o
	}
	return nil
}

// customAttributes maps standard and enterprise fields to WorkOS's
// snake_case custom_attributes.
var customAttributes = []struct{ from, to string }{
	{"employeeNumber", "employee_number"}, {"costCenter", "cost_center"}, {"organization", "organization"},
	{"division", "division"}, {"department", "department"},
}

// deriveUser fills the indexed and WorkOS-facing fields of a user from its
// normalized resource.
func deriveUser(m object) (store.DirectoryUser, error) {
	var u store.DirectoryUser
	u.UserName = strings.TrimSpace(getString(m, "userName"))
	if u.UserName == "" {
		return u, badRequest(TypeInvalidValue, "userName is required.")
	}
	u.ExternalID = getString(m, "externalId")
	u.IdPID = u.ExternalID
	if u.IdPID == "" {
		u.IdPID = u.UserName
	}
	if n := getObject(m, "name"); n != nil {
		u.FirstName, u.LastName = getString(n, "givenName"), getString(n, "familyName")
	}
	u.DisplayName = getString(m, "displayName")
	if u.DisplayName == "" {
		if n := getObject(m, "name"); n != nil {
			u.DisplayName = getString(n, "formatted")
		}
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	u.JobTitle = getString(m, "title")
	u.State = store.UserActive
	if a, ok := m["active"].(bool); ok && !a {
		u.State = store.UserInactive
	}
	if list, ok := m["emails"].([]any); ok {
		for _, e := range list {
			eo, _ := e.(object)
			v := strings.TrimSpace(getString(eo, "value"))
			if v == "" {
				continue
			}
			p, _ := eo["primary"].(bool)
			u.Emails = append(u.Emails, store.UserEmail{Value: v, Type: getString(eo, "type"), Primary: p})
		}
	}
	u.Email = primaryEmail(u.Emails)
	custom := map[string]any{}
	if ext := getObject(m, SchemaEnterprise); ext != nil {
		for _, c := range customAttributes {
			if s := getString(ext, c.from); s != "" {
				custom[c.to] = s
			}
		}
		if mg := getObject(ext, "manager"); mg != nil {
			if s := getString(mg, "value"); s != "" {
				custom["manager_id"] = s
			}
		}
	}
	if u.JobTitle != "" {
		custom["title"] = u.JobTitle
	}
	var err error
	if u.CustomAttributes, err = json.Marshal(custom); err != nil {
		return u, fmt.Errorf("custom attributes: %w", err)
	}
	if u.Attributes, err = json.Marshal(m); err != nil {
		return u, fmt.Errorf("attributes: %w", err)
	}
	return u, nil
}

// primaryEmail picks the primary address, else the first work one, else
// the first.
func primaryEmail(es []store.UserEmail) string {
	for _, e := range es {
		if e.Primary {
			return e.Value
		}
	}
	for _, e := range es {
		if strings.EqualFold(e.Type, "work") {
			return e.Value
		}
	}
	if len(es) > 0 {
		return es[0].Value
	}
	return ""
}

// deriveGroup fills a group's fields from its normalized resource, which
// must not hold members (they live in their own table).
func deriveGroup(m object) (store.DirectoryGroup, error) {
	var g store.DirectoryGroup
	g.DisplayName = strings.TrimSpace(getString(m, "displayName"))
	if g.DisplayName == "" {
		return g, badRequest(TypeInvalidValue, "displayName is required.")
	}
	g.ExternalID = getString(m, "externalId")
	g.IdPID = g.ExternalID
	var err error
	if g.Attributes, err = json.Marshal(m); err != nil {
		return g, fmt.Errorf("attributes: %w", err)
	}
	return g, nil
}

func decodeObject(b []byte) object {
	var m object
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return object{}
	}
	return m
}

func timeString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func version(t time.Time) string { return `W/"` + strconv.FormatInt(t.UnixMilli(), 10) + `"` }

// renderUser is a user as SCIM returns it.
func renderUser(base string, u store.DirectoryUser, groups []store.DirectoryGroup) object {
	return withMeta(base, decodeObject(u.Attributes), u, groups)
}

// withMeta adds the server-managed attributes to a user's stored
// attributes m (which it modifies).
func withMeta(base string, m object, u store.DirectoryUser, groups []store.DirectoryGroup) object {
	schemas := []any{SchemaUser}
	for k, v := range m {
		if _, isObj := v.(object); isObj && strings.HasPrefix(strings.ToLower(k), "urn:") {
			schemas = append(schemas, k)
		}
	}
	m["schemas"] = schemas
	m["id"] = u.ID
	m["active"] = u.State == store.UserActive
	m["meta"] = object{"resourceType": "User", "created": timeString(u.CreatedAt), "lastModified": timeString(u.UpdatedAt),
		"location": base + "/Users/" + u.ID, "version": version(u.UpdatedAt)}
	if len(groups) > 0 {
		gs := make([]any, 0, len(groups))
		for _, g := range groups {
			gs = append(gs, object{"value": g.ID, "display": g.DisplayName, "$ref": base + "/Groups/" + g.ID, "type": "direct"})
		}
		m["groups"] = gs
	}
	return m
}

// renderGroup is a group as SCIM returns it; members is nil when they
// were not asked for.
func renderGroup(base string, g store.DirectoryGroup, members []store.Member, withMembers bool) object {
	m := decodeObject(g.Attributes)
	m["schemas"] = []any{SchemaGroup}
	m["id"] = g.ID
	m["displayName"] = g.DisplayName
	m["meta"] = object{"resourceType": "Group", "created": timeString(g.CreatedAt), "lastModified": timeString(g.UpdatedAt),
		"location": base + "/Groups/" + g.ID, "version": version(g.UpdatedAt)}
	if withMembers {
		ms := make([]any, 0, len(members))
		for _, x := range members {
			d := x.DisplayName
			if d == "" {
				d = x.UserName
			}
			ms = append(ms, object{"value": x.UserID, "display": d, "$ref": base + "/Users/" + x.UserID, "type": "User"})
		}
		m["members"] = ms
	}
	return m
}

// attrRef is one entry of attributes/excludedAttributes, resolved to the
// top-level key (an extension URN for extension attributes) and an
// optional sub-attribute path.
type attrRef struct {
	top string
	sub string // for extensions: the attribute within; else a sub-attribute
	ext bool
}

func parseAttrList(rs resourceSchema, s string) []attrRef {
	var out []attrRef
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(p), "urn:") {
			if strings.EqualFold(p, rs.core) {
				continue
			}
			if urn, _, ok := rs.extension(p); ok {
				out = append(out, attrRef{top: urn, ext: true})
				continue
			}
			if len(p) > len(rs.core) && strings.EqualFold(p[:len(rs.core)+1], rs.core+":") {
				p = p[len(rs.core)+1:]
			} else {
				matched := false
				for urn := range rs.extensions {
					if len(p) > len(urn) && strings.EqualFold(p[:len(urn)+1], urn+":") {
						out = append(out, attrRef{top: urn, sub: p[len(urn)+1:], ext: true})
						matched = true
						break
					}
				}
				if !matched {
					out = append(out, attrRef{top: p})
				}
				continue
			}
		}
		top, sub, _ := strings.Cut(p, ".")
		out = append(out, attrRef{top: top, sub: sub})
	}
	return out
}

// wanted reports whether the projection includes top-level attribute name
// (used to skip loading group members that would be dropped).
func wanted(rs resourceSchema, attributes, excluded, name string) bool {
	if attributes != "" {
		for _, a := range parseAttrList(rs, attributes) {
			if strings.EqualFold(a.top, name) {
				return true
			}
		}
		return false
	}
	for _, a := range parseAttrList(rs, excluded) {
		if strings.EqualFold(a.top, name) && a.sub == "" {
			return false
		}
	}
	return true
}

// project applies attributes / excludedAttributes (RFC 7644 §3.4.2.5).
// id and schemas are always returned.
func project(rs resourceSchema, m object, attributes, excluded string) object {
	if attributes != "" {
		out := object{"id": m["id"], "schemas": m["schemas"]}
		for _, a := range parseAttrList(rs, attributes) {
			k, ok := lookup(m, a.top)
			if !ok {
				continue
			}
			if a.sub == "" {
				out[k] = m[k]
				continue
			}
			switch v := m[k].(type) {
			case object:
				sk, ok := lookup(v, a.sub)
				if !ok {
					continue
				}
				dst, _ := out[k].(object)
				if dst == nil {
					dst = object{}
					out[k] = dst
				}
				dst[sk] = v[sk]
			case []any:
				list := make([]any, 0, len(v))
				for _, e := range v {
					if eo, ok := e.(object); ok {
						if sk, ok := lookup(eo, a.sub); ok {
							list = append(list, object{sk: eo[sk]})
						}
					}
				}
				out[k] = list
			}
		}
		return out
	}
	if excluded == "" {
		return m
	}
	for _, a := range parseAttrList(rs, excluded) {
		k, ok := lookup(m, a.top)
		if !ok || strings.EqualFold(k, "id") || strings.EqualFold(k, "schemas") {
			continue
		}
		if a.sub == "" {
			delete(m, k)
			continue
		}
		switch v := m[k].(type) {
		case object:
			if sk, ok := lookup(v, a.sub); ok {
				delete(v, sk)
			}
		case []any:
			for _, e := range v {
				if eo, ok := e.(object); ok {
					if sk, ok := lookup(eo, a.sub); ok {
						delete(eo, sk)
					}
				}
			}
		}
	}
	return m
}

// dedupeValues drops values that repeat an earlier (type, value) pair
// (RFC 7643 §2.4).
func dedupeValues(list []any) []any {
	out := list[:0]
	for i, e := range list {
		eo, ok := e.(object)
		v, hasValue := eo["value"]
		if !ok || !hasValue {
			out = append(out, e)
			continue
		}
		dup := false
		for _, prev := range list[:i] {
			po, _ := prev.(object)
			if po != nil && sameString(po["value"], v) && sameString(po["type"], eo["type"]) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

func sameString(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return strings.EqualFold(as, bs)
	}
	return a == b
}

// onePrimary keeps at most one primary value: the last one marked, which
// is the one a PATCH add just appended (RFC 7644 §3.5.2).
func onePrimary(list []any) {
	last := -1
	for i, e := range list {
		if eo, ok := e.(object); ok && eo["primary"] == true {
			last = i
		}
	}
	for i, e := range list {
		if eo, ok := e.(object); ok && i != last && eo["primary"] == true {
			eo["primary"] = false
		}
	}
}
