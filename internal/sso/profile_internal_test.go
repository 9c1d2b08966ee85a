package sso

import (
	"fmt"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestSAMLRawAttributesShape: an attribute keeps one shape whatever the
// number of values: one the connection maps as multi-valued (groups) is a
// list even with one value; a single-valued one is a string.
func TestSAMLRawAttributesShape(t *testing.T) {
	attr := func(name string, values ...string) crewjam.Attribute {
		a := crewjam.Attribute{Name: name}
		for _, v := range values {
			a.Values = append(a.Values, crewjam.AttributeValue{Value: v})
		}
		return a
	}
	cases := []struct {
		name  string
		attrs []crewjam.Attribute
		key   string
		want  any
	}{
		{"one group stays a list", []crewjam.Attribute{attr("groups", "eng")}, "groups", []string{"eng"}},
		{"two groups", []crewjam.Attribute{attr("groups", "eng", "ops")}, "groups", []string{"eng", "ops"}},
		{"one group under a claim URI", []crewjam.Attribute{attr("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "g1")},
			"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", []string{"g1"}},
		{"groups in two Attribute elements", []crewjam.Attribute{attr("groups", "eng"), attr("groups", "ops")}, "groups", []string{"eng", "ops"}},
		{"single-valued email", nil, "email", "a@example.com"},
		{"other attribute with several values", []crewjam.Attribute{attr("badges", "x", "y")}, "badges", []string{"x", "y"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &crewjam.Assertion{AttributeStatements: []crewjam.AttributeStatement{{
				Attributes: append([]crewjam.Attribute{attr("email", "a@example.com")}, c.attrs...)}}}
			p, ferr := (&Service{}).samlProfile(store.Connection{Type: "GenericSAML"}, a)
			if ferr != nil {
				t.Fatal(ferr)
			}
			if got := p.RawAttributes[c.key]; fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", c.want, c.want) {
				t.Fatalf("raw_attributes[%q] = %T %v, want %T %v", c.key, got, got, c.want, c.want)
			}
		})
	}
}
