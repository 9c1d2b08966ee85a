package scim

import (
	"errors"
	"regexp"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// maxFilterLen bounds a filter; IdPs send a single comparison.
const maxFilterLen = 4096

// maxFilterDepth bounds nesting so a hostile filter cannot build a huge
// SQL statement.
const maxFilterDepth = 16

// fieldMap maps a SCIM attribute path (lower-cased, "attr" or
// "attr.sub") to a store field.
type fieldMap map[string]string

var userFilterFields = fieldMap{
	"id": "id", "username": "user_name", "externalid": "external_id", "displayname": "display_name",
	"name.givenname": "first_name", "name.familyname": "last_name", "title": "job_title", "active": "active",
	"meta.created": "created_at", "meta.lastmodified": "updated_at",
}

var groupFilterFields = fieldMap{
	"id": "id", "displayname": "display_name", "externalid": "external_id",
	"meta.created": "created_at", "meta.lastmodified": "updated_at",
}

// entraValuePath matches `emails[type eq "work"].value eq "x"`, which Entra
// ID sends but the RFC grammar (and so the parser) lacks; it is rewritten
// to the equivalent `emails[type eq "work" and value eq "x"]`.
var entraValuePath = regexp.MustCompile(`^\s*([A-Za-z][\w$-]*)\[([^\[\]]+)\]\.([A-Za-z][\w$-]*)\s+(.+)$`)

var errAmbiguous = errors.New("ambiguous value path")

// ParseFilter parses a SCIM filter for users (group=false) or groups and
// translates it to a store condition. Every failure is a 400 invalidFilter.
func ParseFilter(s string, group bool) (*store.Cond, error) {
	if len(s) > maxFilterLen {
		return nil, badRequest(TypeInvalidFilter, "The filter is longer than %d characters.", maxFilterLen)
	}
	expr, err := filter.ParseFilter([]byte(s))
	if err != nil {
		if m := entraValuePath.FindStringSubmatch(s); m != nil {
			expr, err = filter.ParseFilter([]byte(m[1] + "[" + m[2] + " and " + m[3] + " " + m[4] + "]"))
			if err == nil && strings.Contains(strings.ToLower(m[2]), " or ") {
				// "a or b and c" would bind differently; refuse rather than guess.
				err = errAmbiguous
			}
		}
		if err != nil {
			return nil, badRequest(TypeInvalidFilter, "The filter %q is not valid SCIM filter syntax.", s)
		}
	}
	t := translator{group: group}
	return t.expr(expr, 0)
}

type translator struct {
	group bool
}

func (t translator) expr(e filter.Expression, depth int) (*store.Cond, error) {
	if depth > maxFilterDepth {
		return nil, badRequest(TypeInvalidFilter, "The filter is nested too deeply.")
	}
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := t.expr(e.Left, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.expr(e.Right, depth+1)
		if err != nil {
			return nil, err
		}
		op := "and"
		if strings.EqualFold(string(e.Operator), "or") {
			op = "or"
		}
		return &store.Cond{Op: op, Left: l, Right: r}, nil
	case *filter.NotExpression:
		c, err := t.expr(e.Expression, depth+1)
		if err != nil {
			return nil, err
		}
		return &store.Cond{Op: "not", Left: c}, nil
	case *filter.ValuePath:
		return t.valuePath(e.AttributePath, e.ValueFilter, depth)
	case *filter.AttributeExpression:
		return t.attrExpr(e, depth)
	}
	return nil, badRequest(TypeInvalidFilter, "Unsupported filter expression.")
}

// multi returns the store operation and sub-field table for a multi-valued
// attribute that filters go through a join for.
func (t translator) multi(name string) (string, map[string]string, bool) {
	switch {
	case !t.group && strings.EqualFold(name, "emails"):
		return "email", store.EmailFields, true
	case !t.group && strings.EqualFold(name, "groups"):
		return "group", store.MemberFields, true
	case t.group && strings.EqualFold(name, "members"):
		return "member", store.MemberFields, true
	}
	return "", nil, false
}

func (t translator) checkURI(p filter.AttributePath) error {
	uri := p.URI()
	if uri == "" {
		return nil
	}
	core := SchemaUser
	if t.group {
		core = SchemaGroup
	}
	if !strings.EqualFold(uri, core) {
		return badRequest(TypeInvalidFilter, "Filtering on %s attributes is not supported.", uri)
	}
	return nil
}

func (t translator) valuePath(p filter.AttributePath, inner filter.Expression, depth int) (*store.Cond, error) {
	if err := t.checkURI(p); err != nil {
		return nil, err
	}
	op, fields, ok := t.multi(p.AttributeName)
	if !ok || p.SubAttribute != nil {
		return nil, badRequest(TypeInvalidFilter, "%s cannot be filtered with [...].", p.String())
	}
	sub, err := subExpr(inner, fields, depth+1)
	if err != nil {
		return nil, err
	}
	return &store.Cond{Op: op, Sub: sub}, nil
}

// subExpr translates the filter inside a value path, whose attributes name
// sub-attributes of one value (type, value, primary).
func subExpr(e filter.Expression, fields map[string]string, depth int) (*store.Cond, error) {
	if depth > maxFilterDepth {
		return nil, badRequest(TypeInvalidFilter, "The filter is nested too deeply.")
	}
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := subExpr(e.Left, fields, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := subExpr(e.Right, fields, depth+1)
		if err != nil {
			return nil, err
		}
		op := "and"
		if strings.EqualFold(string(e.Operator), "or") {
			op = "or"
		}
		return &store.Cond{Op: op, Left: l, Right: r}, nil
	case *filter.NotExpression:
		c, err := subExpr(e.Expression, fields, depth+1)
		if err != nil {
			return nil, err
		}
		return &store.Cond{Op: "not", Left: c}, nil
	case *filter.AttributeExpression:
		if e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil {
			return nil, badRequest(TypeInvalidFilter, "Unsupported attribute %s inside [...].", e.AttributePath.String())
		}
		name := strings.ToLower(e.AttributePath.AttributeName)
		typ, ok := fields[name]
		if !ok {
			return nil, badRequest(TypeInvalidFilter, "Filtering on %s is not supported.", e.AttributePath.AttributeName)
		}
		return compare(name, typ, e)
	}
	return nil, badRequest(TypeInvalidFilter, "Unsupported filter expression inside [...].")
}

func (t translator) attrExpr(e *filter.AttributeExpression, depth int) (*store.Cond, error) {
	p := e.AttributePath
	if err := t.checkURI(p); err != nil {
		return nil, err
	}
	if op, fields, ok := t.multi(p.AttributeName); ok {
		// emails eq "x" and emails.value eq "x" compare the value sub-attribute.
		sub := "value"
		if p.SubAttribute != nil {
			sub = strings.ToLower(*p.SubAttribute)
		}
		typ, ok := fields[sub]
		if !ok {
			return nil, badRequest(TypeInvalidFilter, "Filtering on %s is not supported.", p.String())
		}
		c, err := compare(sub, typ, e)
		if err != nil {
			return nil, err
		}
		return &store.Cond{Op: op, Sub: c}, nil
	}
	key := strings.ToLower(p.AttributeName)
	if p.SubAttribute != nil {
		key += "." + strings.ToLower(*p.SubAttribute)
	}
	fields, types := userFilterFields, store.UserFields
	if t.group {
		fields, types = groupFilterFields, store.GroupFields
	}
	field, ok := fields[key]
	if !ok {
		return nil, badRequest(TypeInvalidFilter, "Filtering on %s is not supported.", p.String())
	}
	return compare(field, types[field], e)
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true, "pr": true}

// compare builds a comparison, checking the value's type against the field's.
func compare(field, typ string, e *filter.AttributeExpression) (*store.Cond, error) {
	op := strings.ToLower(string(e.Operator))
	if !compareOps[op] {
		return nil, badRequest(TypeInvalidFilter, "Unknown operator %q.", e.Operator)
	}
	c := &store.Cond{Op: "cmp", Field: field, CmpOp: op}
	if op == "pr" {
		return c, nil
	}
	switch typ {
	case store.FieldBool:
		if op != "eq" && op != "ne" {
			return nil, badRequest(TypeInvalidFilter, "%s supports eq and ne only.", e.AttributePath.String())
		}
		switch v := e.CompareValue.(type) {
		case bool:
			c.Value = v
		case string:
			switch strings.ToLower(v) {
			case "true":
				c.Value = true
			case "false":
				c.Value = false
			default:
				return nil, badRequest(TypeInvalidFilter, "%s takes true or false.", e.AttributePath.String())
			}
		default:
			return nil, badRequest(TypeInvalidFilter, "%s takes true or false.", e.AttributePath.String())
		}
	case store.FieldTime:
		s, ok := e.CompareValue.(string)
		if !ok {
			return nil, badRequest(TypeInvalidFilter, "%s takes a date-time string.", e.AttributePath.String())
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, badRequest(TypeInvalidFilter, "%s takes an RFC 3339 date-time, got %q.", e.AttributePath.String(), s)
		}
		switch op {
		case "co", "sw", "ew":
			return nil, badRequest(TypeInvalidFilter, "%s does not support %s.", e.AttributePath.String(), op)
		}
		c.Value = tm
	default:
		s, ok := e.CompareValue.(string)
		if !ok {
			return nil, badRequest(TypeInvalidFilter, "%s takes a string.", e.AttributePath.String())
		}
		c.Value = s
	}
	return c, nil
}
