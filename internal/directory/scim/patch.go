package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	filter "github.com/scim2/filter-parser/v2"
)

// maxOperations bounds one PATCH request.
const maxOperations = 1000

// Operation is one PATCH operation as sent.
type Operation struct {
	Op    string
	Path  string
	Value any
	// HasValue tells "value": null from no value at all.
	HasValue bool
}

// PatchRequest is a parsed PATCH body.
type PatchRequest struct {
	Operations []Operation
}

// ParsePatch parses a PATCH body (RFC 7644 §3.5.2), accepting what Okta
// and Entra ID send: capitalised op names and "Operations" in any case.
func ParsePatch(body []byte) (PatchRequest, error) {
	var raw map[string]json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return PatchRequest{}, err
	}
	var pr PatchRequest
	var schemas []string
	var ops []map[string]json.RawMessage
	for k, v := range raw {
		switch strings.ToLower(k) {
		case "schemas":
			if err := json.Unmarshal(v, &schemas); err != nil {
				return pr, badRequest(TypeInvalidSyntax, "schemas must be an array of strings.")
			}
		case "operations":
			if err := json.Unmarshal(v, &ops); err != nil {
				return pr, badRequest(TypeInvalidSyntax, "Operations must be an array of objects.")
			}
		}
	}
	if !slices.ContainsFunc(schemas, func(s string) bool { return strings.EqualFold(s, SchemaPatchOp) }) {
		return pr, badRequest(TypeInvalidSyntax, "schemas must contain %s.", SchemaPatchOp)
	}
	if len(ops) == 0 {
		return pr, badRequest(TypeInvalidSyntax, "Operations must hold at least one operation.")
	}
	if len(ops) > maxOperations {
		return pr, badRequest(TypeTooMany, "At most %d operations per request.", maxOperations)
	}
	for i, o := range ops {
		var op Operation
		for k, v := range o {
			switch strings.ToLower(k) {
			case "op":
				if err := json.Unmarshal(v, &op.Op); err != nil {
					return pr, badRequest(TypeInvalidSyntax, "Operations[%d].op must be a string.", i)
				}
			case "path":
				if err := json.Unmarshal(v, &op.Path); err != nil {
					return pr, badRequest(TypeInvalidPath, "Operations[%d].path must be a string.", i)
				}
			case "value":
				op.HasValue = true
				if err := json.Unmarshal(v, &op.Value); err != nil {
					return pr, badRequest(TypeInvalidValue, "Operations[%d].value is not valid JSON.", i)
				}
			}
		}
		op.Op = strings.ToLower(strings.TrimSpace(op.Op))
		switch op.Op {
		case "add", "replace":
			if !op.HasValue {
				return pr, badRequest(TypeInvalidValue, "Operations[%d] (%s) needs a value.", i, op.Op)
			}
			if op.Path == "" {
				if _, ok := op.Value.(object); !ok {
					return pr, badRequest(TypeInvalidValue, "Operations[%d] has no path, so its value must be an object.", i)
				}
			}
		case "remove":
			if op.Path == "" {
				return pr, badRequest(TypeNoTarget, "Operations[%d] (remove) needs a path.", i)
			}
		default:
			return pr, badRequest(TypeInvalidSyntax, "Operations[%d].op must be add, replace or remove, got %q.", i, op.Op)
		}
		pr.Operations = append(pr.Operations, op)
	}
	return pr, nil
}

// decodeStrict decodes a JSON object body with numbers as float64,
// rejecting trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badRequest(TypeInvalidSyntax, "The body is not a valid JSON object: %v.", err)
	}
	if dec.More() {
		return badRequest(TypeInvalidSyntax, "The body has data after the JSON object.")
	}
	return nil
}

// target is a PATCH path resolved against a schema.
type target struct {
	ext     string // extension URN holding the attribute, or ""
	attr    Attribute
	known   bool
	name    string            // the attribute's name (canonical if known)
	filter  filter.Expression // value filter, for multi-valued attributes
	sub     string            // sub-attribute after the name or the filter
	subAttr Attribute
}

// resolvePath parses a PATCH path: attr, attr.sub, attr[filter],
// attr[filter].sub, each optionally URN-prefixed.
func resolvePath(rs resourceSchema, path string) (target, error) {
	var t target
	p, err := filter.ParsePath([]byte(path))
	if err != nil {
		// A bare extension URN is a valid path that the parser rejects.
		if urn, _, ok := rs.extension(path); ok {
			t.ext, t.name = urn, ""
			return t, nil
		}
		return t, badRequest(TypeInvalidPath, "The path %q is not valid.", path)
	}
	attrs := rs.attrs
	if uri := p.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, rs.core) {
		urn, extAttrs, ok := rs.extension(uri)
		if !ok {
			// An extension we do not know (Entra custom attributes): kept verbatim.
			t.ext, t.name = uri, p.AttributePath.AttributeName
			if p.AttributePath.SubAttribute != nil {
				t.sub = *p.AttributePath.SubAttribute
			}
			return t, nil
		}
		t.ext, attrs = urn, extAttrs
	}
	t.name = p.AttributePath.AttributeName
	if a, ok := findAttr(attrs, t.name); ok {
		t.attr, t.known, t.name = a, true, a.Name
	} else if t.ext == "" {
		return t, badRequest(TypeInvalidPath, "Unknown attribute %q.", t.name)
	}
	t.filter = p.ValueExpression
	switch {
	case p.AttributePath.SubAttribute != nil:
		t.sub = *p.AttributePath.SubAttribute
	case p.SubAttribute != nil:
		t.sub = *p.SubAttribute
	}
	if t.filter != nil && t.known && !t.attr.MultiValued {
		return t, badRequest(TypeInvalidPath, "%s is not multi-valued, so it cannot be filtered.", t.name)
	}
	if t.sub != "" && t.known {
		if t.attr.Type != "complex" {
			return t, badRequest(TypeInvalidPath, "%s has no sub-attributes.", t.name)
		}
		sa, ok := findAttr(t.attr.SubAttrs, t.sub)
		if !ok {
			return t, badRequest(TypeInvalidPath, "%s has no sub-attribute %q.", t.name, t.sub)
		}
		t.sub, t.subAttr = sa.Name, sa
	}
	if t.known && t.attr.Mutability == "readOnly" {
		return t, badRequest(TypeMutability, "%s is read-only.", t.name)
	}
	return t, nil
}

// applyPatch applies operations to a (normalized) resource in order.
// Path-less values may use dotted and URN-prefixed keys (Entra) and carry
// the resource's own id (Okta), which is ignored.
func applyPatch(rs resourceSchema, m object, ops []Operation) (object, error) {
	for _, op := range ops {
		if op.Path == "" {
			for k, v := range op.Value.(object) {
				if err := applyKey(rs, m, op.Op, k, v); err != nil {
					return nil, err
				}
			}
			continue
		}
		t, err := resolvePath(rs, op.Path)
		if err != nil {
			return nil, err
		}
		if err := applyTarget(m, op, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// applyKey applies one key of a path-less value.
func applyKey(rs resourceSchema, m object, op, k string, v any) error {
	switch {
	case strings.EqualFold(k, "id"), strings.EqualFold(k, "meta"), strings.EqualFold(k, "schemas"):
		return nil
	case strings.EqualFold(k, "password"):
		return nil
	}
	if urn, _, ok := rs.extension(k); ok {
		ext, ok := v.(object)
		if !ok {
			return badRequest(TypeInvalidValue, "%s must be an object.", urn)
		}
		for sk, sv := range ext {
			if err := applyKey(rs, m, op, urn+":"+sk, sv); err != nil {
				return err
			}
		}
		return nil
	}
	t, err := resolvePath(rs, k)
	if se, ok := err.(*Error); ok && se.SCIMType == TypeInvalidPath && !strings.ContainsAny(k, ".[:") {
		// A path-less value may carry attributes outside the schema; they
		// are kept verbatim in raw_attributes, as on create.
		if op == "remove" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return nil
	}
	if err != nil {
		return err
	}
	return applyTarget(m, Operation{Op: op, Path: k, Value: v, HasValue: true}, t)
}

// container returns the object holding t's attribute, creating an
// extension object when create is set.
func container(m object, t target, create bool) object {
	if t.ext == "" {
		return m
	}
	k, ok := lookup(m, t.ext)
	if ok {
		if o, isObj := m[k].(object); isObj {
			return o
		}
	}
	if !create {
		return nil
	}
	o := object{}
	m[t.ext] = o
	return o
}

func applyTarget(m object, op Operation, t target) error {
	if t.name == "" { // the whole extension
		switch op.Op {
		case "remove":
			if k, ok := lookup(m, t.ext); ok {
				delete(m, k)
			}
			return nil
		default:
			v, ok := op.Value.(object)
			if !ok {
				return badRequest(TypeInvalidValue, "%s must be an object.", t.ext)
			}
			c := container(m, t, true)
			for k, x := range v {
				c[k] = x
			}
			return nil
		}
	}
	c := container(m, t, op.Op != "remove")
	if c == nil {
		return nil // removing from an absent extension: nothing to do
	}
	key, present := lookup(c, t.name)
	if !present {
		key = t.name
	}
	multi := t.known && t.attr.MultiValued
	switch {
	case t.filter != nil:
		return applyFiltered(c, key, op, t)
	case t.sub != "" && !multi:
		sub, _ := c[key].(object)
		if op.Op == "remove" {
			if sub != nil {
				if sk, ok := lookup(sub, t.sub); ok {
					delete(sub, sk)
				}
				if len(sub) == 0 {
					delete(c, key)
				}
			}
			return nil
		}
		if sub == nil {
			sub = object{}
			c[key] = sub
		}
		sk, ok := lookup(sub, t.sub)
		if !ok {
			sk = t.sub
		}
		sub[sk] = op.Value
		return nil
	case t.sub != "" && multi:
		// emails.value without a filter: every value's sub-attribute.
		list, _ := c[key].([]any)
		for _, e := range list {
			if eo, ok := e.(object); ok {
				if op.Op == "remove" {
					if sk, ok := lookup(eo, t.sub); ok {
						delete(eo, sk)
					}
				} else {
					eo[t.sub] = op.Value
				}
			}
		}
		return nil
	}
	switch op.Op {
	case "remove":
		if multi && op.HasValue && op.Value != nil {
			// Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}.
			c[key] = removeValues(c[key], op.Value)
			if l, _ := c[key].([]any); len(l) == 0 {
				delete(c, key)
			}
			return nil
		}
		delete(c, key)
	case "replace":
		c[key] = op.Value
	case "add":
		switch {
		case multi:
			c[key] = appendValues(c[key], op.Value)
		case t.known && t.attr.Type == "complex":
			cur, _ := c[key].(object)
			add, ok := op.Value.(object)
			if !ok {
				return badRequest(TypeInvalidValue, "%s must be an object.", t.name)
			}
			if cur == nil {
				cur = object{}
			}
			for k, v := range add {
				cur[k] = v
			}
			c[key] = cur
		default:
			c[key] = op.Value
		}
	}
	return nil
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// appendValues adds values to a multi-valued attribute, skipping ones
// already present (RFC 7644 §3.5.2.1).
func appendValues(cur, add any) []any {
	list := slices.Clone(asList(cur))
	for _, v := range asList(add) {
		if !slices.ContainsFunc(list, func(e any) bool { return sameValue(e, v) }) {
			list = append(list, v)
		}
	}
	return list
}

func removeValues(cur, rm any) []any {
	var out []any
	for _, e := range asList(cur) {
		if !slices.ContainsFunc(asList(rm), func(r any) bool { return sameValue(e, r) }) {
			out = append(out, e)
		}
	}
	return out
}

// sameValue compares two values of a multi-valued attribute by their
// "value" sub-attribute when both have one.
func sameValue(a, b any) bool {
	ao, aok := a.(object)
	bo, bok := b.(object)
	if aok && bok {
		av, ak := lookup(ao, "value")
		bv, bk := lookup(bo, "value")
		if ak && bk {
			return fmt.Sprint(ao[av]) == fmt.Sprint(bo[bv])
		}
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return bytes.Equal(ab, bb)
}

// applyFiltered applies an operation to the values of a multi-valued
// attribute that match t.filter.
func applyFiltered(c object, key string, op Operation, t target) error {
	list := asList(c[key])
	var out []any
	matched := 0
	for _, e := range list {
		eo, ok := e.(object)
		if !ok || !matches(eo, t.filter) {
			out = append(out, e)
			continue
		}
		matched++
		switch {
		case op.Op == "remove" && t.sub == "":
			continue // drop the value
		case op.Op == "remove":
			if sk, ok := lookup(eo, t.sub); ok {
				delete(eo, sk)
			}
		case t.sub != "":
			sk, ok := lookup(eo, t.sub)
			if !ok {
				sk = t.sub
			}
			eo[sk] = op.Value
		default:
			nv, ok := op.Value.(object)
			if !ok {
				return badRequest(TypeInvalidValue, "The value for %s must be an object.", op.Path)
			}
			for k, v := range nv {
				eo[k] = v
			}
		}
		out = append(out, eo)
	}
	if matched == 0 && op.Op != "remove" && len(list) > 0 {
		return badRequest(TypeNoTarget, "No value of %s matches %s.", t.name, op.Path)
	}
	if matched == 0 && op.Op != "remove" {
		// Entra may replace emails[type eq "work"].value on a user with no
		// address at all: create the value the filter describes. (With
		// values present but none matching, RFC 7644 §3.5.2.3 says 400.)
		seed, ok := seedFromFilter(t.filter)
		if !ok {
			return badRequest(TypeNoTarget, "No value of %s matches %s.", t.name, op.Path)
		}
		if t.sub != "" {
			seed[t.sub] = op.Value
		} else if nv, ok := op.Value.(object); ok {
			for k, v := range nv {
				seed[k] = v
			}
		}
		out = append(out, seed)
	}
	if len(out) == 0 {
		delete(c, key)
		return nil
	}
	c[key] = out
	return nil
}

// seedFromFilter turns `a eq "x"` (and conjunctions of them) into {a: x}.
func seedFromFilter(e filter.Expression) (object, bool) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(e.Operator), "eq") || e.AttributePath.SubAttribute != nil {
			return nil, false
		}
		return object{e.AttributePath.AttributeName: e.CompareValue}, true
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), "and") {
			return nil, false
		}
		l, ok := seedFromFilter(e.Left)
		if !ok {
			return nil, false
		}
		r, ok := seedFromFilter(e.Right)
		if !ok {
			return nil, false
		}
		for k, v := range r {
			l[k] = v
		}
		return l, true
	}
	return nil, false
}

// matches evaluates a value filter against one value of a multi-valued
// attribute (a handful of values, never a table scan).
func matches(v object, e filter.Expression) bool {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if strings.EqualFold(string(e.Operator), "or") {
			return matches(v, e.Left) || matches(v, e.Right)
		}
		return matches(v, e.Left) && matches(v, e.Right)
	case *filter.NotExpression:
		return !matches(v, e.Expression)
	case *filter.AttributeExpression:
		k, ok := lookup(v, e.AttributePath.AttributeName)
		op := strings.ToLower(string(e.Operator))
		if op == "pr" {
			return ok && v[k] != nil && v[k] != ""
		}
		if !ok {
			return false
		}
		return compareValue(v[k], op, e.CompareValue)
	}
	return false
}

func compareValue(have any, op string, want any) bool {
	switch h := have.(type) {
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		h, w = strings.ToLower(h), strings.ToLower(w)
		switch op {
		case "eq":
			return h == w
		case "ne":
			return h != w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
	case bool:
		w, ok := want.(bool)
		if s, isStr := want.(string); isStr {
			w, ok = strings.EqualFold(s, "true"), strings.EqualFold(s, "true") || strings.EqualFold(s, "false")
		}
		if !ok {
			return false
		}
		switch op {
		case "eq":
			return h == w
		case "ne":
			return h != w
		}
	}
	return false
}

// PatchUser applies a PATCH to a stored user and derives the result.
func PatchUser(cur store.DirectoryUser, pr PatchRequest) (store.DirectoryUser, error) {
	m := decodeObject(cur.Attributes)
	_, hadActive := m["active"]
	m, err := applyPatch(userSchema, m, pr.Operations)
	if err != nil {
		return cur, err
	}
	if m, err = normalize(userSchema, m); err != nil {
		return cur, err
	}
	u, err := deriveUser(m)
	if _, hasActive := m["active"]; !hadActive && !hasActive {
		u.State = cur.State // a user written without active keeps its state
	}
	return u, err
}

// membersOf reads member IDs from a members value list.
func membersOf(v any) ([]string, error) {
	var ids []string
	for _, e := range asList(v) {
		o, ok := e.(object)
		if !ok {
			return nil, badRequest(TypeInvalidValue, "Each member must be an object with a value.")
		}
		k, ok := lookup(o, "value")
		if !ok {
			return nil, badRequest(TypeInvalidValue, "Each member needs a value (the user's id).")
		}
		s, ok := o[k].(string)
		if !ok || s == "" {
			return nil, badRequest(TypeInvalidValue, "A member's value must be a non-empty string.")
		}
		if k, ok := lookup(o, "type"); ok && !strings.EqualFold(fmt.Sprint(o[k]), "User") {
			return nil, badRequest(TypeInvalidValue, "Nested groups are not supported: member %q has type %v; a member must be a user (type \"User\").", s, o[k])
		}
		ids = append(ids, s)
	}
	return ids, nil
}

// memberSet composes member operations in order.
type memberSet struct {
	replace     bool
	set         []string
	add, remove []string
}

func without(list []string, rm []string) []string {
	out := list[:0:0]
	for _, x := range list {
		keep := true
		for _, r := range rm {
			if r == x {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

func (ms *memberSet) doAdd(ids []string) {
	if ms.replace {
		ms.set = append(without(ms.set, ids), ids...)
		return
	}
	ms.add, ms.remove = append(without(ms.add, ids), ids...), without(ms.remove, ids)
}

func (ms *memberSet) doRemove(ids []string) {
	if ms.replace {
		ms.set = without(ms.set, ids)
		return
	}
	ms.remove, ms.add = append(without(ms.remove, ids), ids...), without(ms.add, ids)
}

func (ms *memberSet) doReplace(ids []string) {
	ms.replace, ms.set, ms.add, ms.remove = true, ids, nil, nil
}

// PatchGroup turns a PATCH into a group change.
func PatchGroup(cur store.DirectoryGroup, pr PatchRequest) (directory.GroupChange, error) {
	var ms memberSet
	var attrOps []Operation
	memberOp := func(op string, t *target, v any, hasValue bool) error {
		if t != nil && t.filter != nil {
			if op != "remove" || t.sub != "" {
				return badRequest(TypeInvalidPath, "Only remove is supported on members[...].")
			}
			ids, ok := memberIDsFromFilter(t.filter)
			if !ok {
				return badRequest(TypeInvalidFilter, `members[...] supports value eq "…" (joined with or).`)
			}
			ms.doRemove(ids)
			return nil
		}
		if t != nil && t.sub != "" {
			return badRequest(TypeInvalidPath, "members.%s cannot be changed.", t.sub)
		}
		var ids []string
		if hasValue && v != nil {
			var err error
			if ids, err = membersOf(v); err != nil {
				return err
			}
		}
		switch op {
		case "add":
			ms.doAdd(ids)
		case "replace":
			ms.doReplace(ids)
		case "remove":
			if hasValue && v != nil {
				ms.doRemove(ids)
			} else {
				ms.doReplace(nil)
			}
		}
		return nil
	}
	for _, op := range pr.Operations {
		if op.Path == "" {
			rest := object{}
			for k, v := range op.Value.(object) {
				if strings.EqualFold(k, "members") {
					if err := memberOp(op.Op, nil, v, true); err != nil {
						return directory.GroupChange{}, err
					}
					continue
				}
				rest[k] = v
			}
			if len(rest) > 0 {
				attrOps = append(attrOps, Operation{Op: op.Op, Value: rest, HasValue: true})
			}
			continue
		}
		t, err := resolvePath(groupSchema, op.Path)
		if err != nil {
			return directory.GroupChange{}, err
		}
		if t.known && t.name == "members" && t.ext == "" {
			if err := memberOp(op.Op, &t, op.Value, op.HasValue); err != nil {
				return directory.GroupChange{}, err
			}
			continue
		}
		attrOps = append(attrOps, op)
	}
	ch := directory.GroupChange{Replace: ms.replace, Set: ms.set, Add: ms.add, Remove: ms.remove}
	if ch.Replace && ch.Set == nil {
		ch.Set = []string{}
	}
	if len(attrOps) > 0 {
		m := decodeObject(cur.Attributes)
		m["displayName"] = cur.DisplayName
		m, err := applyPatch(groupSchema, m, attrOps)
		if err != nil {
			return ch, err
		}
		delete(m, "members")
		if m, err = normalize(groupSchema, m); err != nil {
			return ch, err
		}
		g, err := deriveGroup(m)
		if err != nil {
			return ch, err
		}
		ch.Group = &g
	}
	return ch, nil
}

// memberIDsFromFilter reads `value eq "a"`, or several joined with or.
func memberIDsFromFilter(e filter.Expression) ([]string, bool) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		v, ok := x.CompareValue.(string)
		if !ok || !strings.EqualFold(x.AttributePath.AttributeName, "value") || x.AttributePath.SubAttribute != nil ||
			!strings.EqualFold(string(x.Operator), "eq") {
			return nil, false
		}
		return []string{v}, true
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(x.Operator), "or") {
			return nil, false
		}
		l, ok := memberIDsFromFilter(x.Left)
		if !ok {
			return nil, false
		}
		r, ok := memberIDsFromFilter(x.Right)
		return append(l, r...), ok
	}
	return nil, false
}
