package scim

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// FuzzPatch feeds PATCH bodies to the parser and applies what parses to a
// user and a group: every outcome is a result or a SCIM 4xx, never a panic.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"name.givenName":"K","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1","id":"x"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[primary eq true]"}]}`,
	} {
		f.Add([]byte(s))
	}
	user := store.DirectoryUser{ID: "u1", UserName: "a@b.c", State: store.UserActive,
		Attributes: json.RawMessage(`{"userName":"a@b.c","active":true,"emails":[{"value":"a@b.c","type":"work","primary":true}],"name":{"givenName":"A"}}`)}
	group := store.DirectoryGroup{ID: "g1", DisplayName: "G", Attributes: json.RawMessage(`{"displayName":"G"}`)}
	f.Fuzz(func(t *testing.T, body []byte) {
		pr, err := ParsePatch(body)
		if err != nil {
			check(t, err)
			return
		}
		if _, err := PatchUser(user, pr); err != nil {
			check(t, err)
		}
		if _, err := PatchGroup(group, pr); err != nil {
			check(t, err)
		}
	})
}

func check(t *testing.T, err error) {
	var se *Error
	if !errors.As(err, &se) || se.Status < 400 || se.Status >= 500 || se.SCIMType == "" {
		t.Fatalf("error %v is not a typed SCIM 4xx", err)
	}
}
