package sso

import (
	"fmt"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// mapping returns the preset's attribute mapping with the connection's
// overrides tried first.
func mapping(conn store.Connection) AttributeMapping {
	m := Presets[conn.Type].Attributes
	o := conn.SAML.AttributeMap
	pre := func(field string, names []string) []string {
		if v := o[field]; v != "" {
			return append([]string{v}, names...)
		}
		return names
	}
	return AttributeMapping{
		IdPID: pre("idp_id", m.IdPID), Email: pre("email", m.Email), FirstName: pre("first_name", m.FirstName),
		LastName: pre("last_name", m.LastName), Name: pre("name", m.Name), Groups: pre("groups", m.Groups),
	}
}

func first(attrs map[string][]string, names []string) string {
	for _, n := range names {
		for _, v := range attrs[n] {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return ""
}

func all(attrs map[string][]string, names []string) []string {
	for _, n := range names {
		if vs := attrs[n]; len(vs) > 0 {
			return vs
		}
	}
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// samlProfile maps a verified assertion to a profile.
func (s *Service) samlProfile(conn store.Connection, a *crewjam.Assertion) (Profile, *failure.Error) {
	attrs := ssosaml.Attributes(a)
	m := mapping(conn)
	p := newProfile(conn)
	// SAML does not say which attributes are multi-valued, so the number
	// of values alone would make one group a string and two a list. The
	// attributes the mapping reads as groups are lists whatever their
	// count, so each attribute keeps one shape.
	multi := map[string]bool{}
	for _, n := range m.Groups {
		multi[n] = true
	}
	for k, vs := range attrs {
		if len(vs) == 1 && !multi[k] {
			p.RawAttributes[k] = vs[0]
		} else {
			p.RawAttributes[k] = vs
		}
	}
	nameID := ssosaml.NameID(a)
	p.IdPID = first(attrs, m.IdPID)
	if p.IdPID == "" {
		p.IdPID = nameID
	}
	p.Email = first(attrs, m.Email)
	if p.Email == "" && strings.Contains(nameID, "@") {
		p.Email = nameID
	}
	if p.Email == "" {
		return p, failure.Newf(failure.ProfileIncomplete, "attributes received: %s", strings.Join(keys(attrs), ", "))
	}
	return finish(p, first(attrs, m.FirstName), first(attrs, m.LastName), first(attrs, m.Name), all(attrs, m.Groups)), nil
}

func finish(p Profile, firstName, lastName, name string, groups []string) Profile {
	p.FirstName, p.LastName = optional(firstName), optional(lastName)
	if name == "" {
		name = strings.TrimSpace(firstName + " " + lastName)
	}
	p.Name = optional(name)
	if groups != nil {
		p.Groups = groups
	}
	return p
}

func keys(m map[string][]string) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

// oidcProfile maps verified claims to a profile.
func (s *Service) oidcProfile(conn store.Connection, id *oidc.Identity) (Profile, *failure.Error) {
	p := newProfile(conn)
	attrs := map[string][]string{}
	for k, v := range id.Claims {
		p.RawAttributes[k] = v
		switch x := v.(type) {
		case string:
			attrs[k] = []string{x}
		case []any:
			for _, e := range x {
				attrs[k] = append(attrs[k], fmt.Sprint(e))
			}
		}
	}
	m := mapping(conn)
	p.IdPID = id.Subject
	p.Email = first(attrs, m.Email)
	if p.Email == "" || !strings.Contains(p.Email, "@") {
		return p, failure.Newf(failure.ProfileIncomplete, "the ID token and userinfo carry no email claim")
	}
	return finish(p, first(attrs, m.FirstName), first(attrs, m.LastName), first(attrs, m.Name), all(attrs, m.Groups)), nil
}
