package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// Limits on what one event may carry, as WorkOS sets them.
const (
	maxMetadataKeys   = 50
	maxMetadataKeyLen = 40
	maxMetadataValLen = 500
	maxNameLen        = 255
	maxTargets        = 100
)

// Event is an audit log event as the host app sends it and as exports and
// log streams show it.
type Event struct {
	Action     string         `json:"action"`
	OccurredAt string         `json:"occurred_at"`
	Version    int            `json:"version,omitempty"`
	Actor      Entity         `json:"actor"`
	Targets    []Entity       `json:"targets"`
	Context    Context        `json:"context"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// Entity is an actor or a target.
type Entity struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Name     string         `json:"name,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Context says where the action came from.
type Context struct {
	Location  string `json:"location"`
	UserAgent string `json:"user_agent,omitempty"`
}

// problems collects validation failures as WorkOS reports them: a JSON
// pointer into the event and what is wrong there.
type problems []errs.FieldError

func (p *problems) add(path, code, format string, args ...any) {
	*p = append(*p, errs.FieldError{InstancePath: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_audit_log_event", Message: "Invalid Audit Log event.", Fields: p}
}

// parseEvent reads and checks the shape of an event body; it never trusts
// Go's struct decoding to report a wrong type at the right place.
func parseEvent(raw json.RawMessage) (Event, time.Time, error) {
	var p problems
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		p.add("", "required", "event is required.")
		return Event{}, time.Time{}, p.err()
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		p.add("", "invalid_type", "event must be an object.")
		return Event{}, time.Time{}, p.err()
	}
	var e Event
	e.Action = str(&p, obj, "/action", "action", true, maxNameLen)
	if e.Action != "" && strings.ContainsAny(e.Action, " \t\r\n") {
		p.add("/action", "invalid_format", "action may not contain white space (use a name like \"user.signed_in\").")
	}
	occurred := str(&p, obj, "/occurred_at", "occurred_at", true, 64)
	var at time.Time
	if occurred != "" {
		t, err := time.Parse(time.RFC3339Nano, occurred)
		if err != nil {
			p.add("/occurred_at", "invalid_format", "occurred_at must be an ISO 8601 date-time such as 2026-01-15T12:00:00.000Z.")
		}
		at, e.OccurredAt = t.UTC(), occurred
	}
	if v, ok := obj["version"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &e.Version); err != nil || e.Version < 1 {
			p.add("/version", "invalid_type", "version must be a positive integer.")
		}
	}
	e.Actor = entity(&p, obj, "/actor", "actor")
	if t, ok := obj["targets"]; !ok || string(t) == "null" {
		p.add("/targets", "required", "targets is required (an array of {id, type}).")
	} else {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			p.add("/targets", "invalid_type", "targets must be an array.")
		} else if len(items) > maxTargets {
			p.add("/targets", "too_many", "at most %d targets.", maxTargets)
		} else {
			e.Targets = make([]Entity, 0, len(items))
			for i, it := range items {
				e.Targets = append(e.Targets, entity(&p, map[string]json.RawMessage{"t": it}, fmt.Sprintf("/targets/%d", i), "t"))
			}
		}
	}
	if c, ok := obj["context"]; !ok || string(c) == "null" {
		p.add("/context", "required", "context is required ({location, user_agent?}).")
	} else {
		var co map[string]json.RawMessage
		if err := json.Unmarshal(c, &co); err != nil {
			p.add("/context", "invalid_type", "context must be an object.")
		} else {
			e.Context.Location = str(&p, co, "/context/location", "location", true, maxNameLen)
			e.Context.UserAgent = str(&p, co, "/context/user_agent", "user_agent", false, 2048)
		}
	}
	e.Metadata = metadata(&p, obj, "/metadata")
	return e, at, p.err()
}

// str reads a string member.
func str(p *problems, obj map[string]json.RawMessage, path, key string, required bool, max int) string {
	v, ok := obj[key]
	if !ok || string(v) == "null" {
		if required {
			p.add(path, "required", "%s is required.", key)
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.add(path, "invalid_type", "%s must be a string.", key)
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		p.add(path, "required", "%s may not be empty.", key)
	}
	if len(s) > max {
		p.add(path, "too_long", "%s may be at most %d characters.", key, max)
	}
	return s
}

// entity reads an actor or target: {id, type, name?, metadata?}.
func entity(p *problems, obj map[string]json.RawMessage, path, key string) Entity {
	v, ok := obj[key]
	if !ok || string(v) == "null" {
		p.add(path, "required", "%s is required ({id, type, name?, metadata?}).", strings.TrimPrefix(path, "/"))
		return Entity{}
	}
	var eo map[string]json.RawMessage
	if err := json.Unmarshal(v, &eo); err != nil {
		p.add(path, "invalid_type", "%s must be an object.", strings.TrimPrefix(path, "/"))
		return Entity{}
	}
	return Entity{
		ID:       str(p, eo, path+"/id", "id", true, maxNameLen),
		Type:     str(p, eo, path+"/type", "type", true, maxNameLen),
		Name:     str(p, eo, path+"/name", "name", false, maxNameLen),
		Metadata: metadata(p, eo, path+"/metadata"),
	}
}

// metadata reads a flat object of strings, numbers and booleans.
func metadata(p *problems, obj map[string]json.RawMessage, path string) map[string]any {
	v, ok := obj["metadata"]
	if !ok || string(v) == "null" {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		p.add(path, "invalid_type", "metadata must be an object.")
		return nil
	}
	if len(m) > maxMetadataKeys {
		p.add(path, "too_many_keys", "metadata may have at most %d keys.", maxMetadataKeys)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kp := path + "/" + pointerEscape(k)
		if len(k) > maxMetadataKeyLen {
			p.add(kp, "key_too_long", "metadata keys may be at most %d characters.", maxMetadataKeyLen)
		}
		switch val := m[k].(type) {
		case string:
			if len(val) > maxMetadataValLen {
				p.add(kp, "value_too_long", "metadata values may be at most %d characters.", maxMetadataValLen)
			}
		case json.Number, bool:
		default:
			p.add(kp, "invalid_type", "metadata values must be strings, numbers or booleans.")
		}
	}
	return m
}

func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Schema is one version of an action's schema: which target types the
// action names and JSON schemas for the metadata of the actor, the targets
// and the event.
type Schema struct {
	Actor *struct {
		Metadata json.RawMessage `json:"metadata,omitempty"`
	} `json:"actor,omitempty"`
	Targets []struct {
		Type     string          `json:"type"`
		Metadata json.RawMessage `json:"metadata,omitempty"`
	} `json:"targets"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// metaSchema is the subset of JSON Schema that describes flat metadata.
type metaSchema struct {
	Type       string `json:"type"`
	Properties map[string]struct {
		Type string `json:"type"`
	} `json:"properties"`
	Required             []string `json:"required"`
	AdditionalProperties *bool    `json:"additionalProperties"`
}

var metaTypes = []string{"string", "number", "integer", "boolean"}

// parseSchema checks a schema body before it is stored (422 on mistakes).
func parseSchema(raw json.RawMessage) (Schema, error) {
	var s Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, errs.InvalidField("body", "invalid_type", "The schema must be an object {targets:[{type, metadata?}], actor?:{metadata}, metadata?}.")
	}
	var fields []errs.FieldError
	bad := func(field, code, msg string) {
		fields = append(fields, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if len(s.Targets) == 0 {
		bad("targets", "required", "targets must list at least one target type.")
	}
	seen := map[string]bool{}
	for i, t := range s.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		switch {
		case strings.TrimSpace(t.Type) == "":
			bad(f+".type", "required", "each target needs a type.")
		case seen[t.Type]:
			bad(f+".type", "duplicate", "target type "+t.Type+" is listed twice.")
		}
		seen[t.Type] = true
		if err := checkMetaSchema(t.Metadata); err != "" {
			bad(f+".metadata", "invalid_schema", err)
		}
	}
	if s.Actor != nil {
		if err := checkMetaSchema(s.Actor.Metadata); err != "" {
			bad("actor.metadata", "invalid_schema", err)
		}
	}
	if err := checkMetaSchema(s.Metadata); err != "" {
		bad("metadata", "invalid_schema", err)
	}
	if len(fields) > 0 {
		return s, errs.Invalid(fields...)
	}
	return s, nil
}

func checkMetaSchema(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var m metaSchema
	if err := json.Unmarshal(raw, &m); err != nil {
		return "metadata schema must be a JSON Schema object {type: \"object\", properties: {key: {type}}}."
	}
	if m.Type != "" && m.Type != "object" {
		return "metadata schema type must be \"object\"."
	}
	if len(m.Properties) > maxMetadataKeys {
		return fmt.Sprintf("at most %d metadata properties.", maxMetadataKeys)
	}
	for k, p := range m.Properties {
		if !slices.Contains(metaTypes, p.Type) {
			return fmt.Sprintf("property %q must have type string, number, integer or boolean.", k)
		}
	}
	for _, k := range m.Required {
		if _, ok := m.Properties[k]; !ok {
			return fmt.Sprintf("required property %q is not among the properties.", k)
		}
	}
	return ""
}

// check validates an event against a stored schema version.
func (s Schema) check(e Event) error {
	var p problems
	types := map[string]json.RawMessage{}
	for _, t := range s.Targets {
		types[t.Type] = t.Metadata
	}
	present := map[string]bool{}
	for i, t := range e.Targets {
		ms, ok := types[t.Type]
		if !ok {
			p.add(fmt.Sprintf("/targets/%d/type", i), "unknown_target_type", "target type %q is not in the schema of %s.", t.Type, e.Action)
			continue
		}
		present[t.Type] = true
		checkMeta(&p, ms, t.Metadata, fmt.Sprintf("/targets/%d/metadata", i))
	}
	for _, t := range s.Targets {
		if !present[t.Type] {
			p.add("/targets", "missing_target_type", "the schema of %s needs a target of type %q.", e.Action, t.Type)
		}
	}
	if s.Actor != nil {
		checkMeta(&p, s.Actor.Metadata, e.Actor.Metadata, "/actor/metadata")
	}
	checkMeta(&p, s.Metadata, e.Metadata, "/metadata")
	return p.err()
}

func checkMeta(p *problems, raw json.RawMessage, m map[string]any, path string) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var ms metaSchema
	if json.Unmarshal(raw, &ms) != nil {
		return // refused when the schema was stored
	}
	for _, k := range ms.Required {
		if _, ok := m[k]; !ok {
			p.add(path+"/"+pointerEscape(k), "required", "metadata %q is required by the schema.", k)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		prop, ok := ms.Properties[k]
		if !ok {
			if ms.AdditionalProperties != nil && !*ms.AdditionalProperties {
				p.add(path+"/"+pointerEscape(k), "unknown_property", "metadata %q is not in the schema.", k)
			}
			continue
		}
		if !metaTypeMatches(prop.Type, m[k]) {
			p.add(path+"/"+pointerEscape(k), "invalid_type", "metadata %q must be a %s.", k, prop.Type)
		}
	}
}

func metaTypeMatches(want string, v any) bool {
	switch want {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}
