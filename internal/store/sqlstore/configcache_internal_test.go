package sqlstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestConfigCloneCoversEveryField fails when a field that shares memory
// (slice, map, pointer) is added to a connection config without being
// copied by connConfig.clone: a cached config would then leak one
// caller's changes into the next reader's connection.
func TestConfigCloneCoversEveryField(t *testing.T) {
	copied := map[string]bool{"SAMLConfig.SPKeys": true, "SAMLConfig.AttributeMap": true, "OIDCConfig.Scopes": true}
	var check func(typ reflect.Type, owner string)
	check = func(typ reflect.Type, owner string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := typ.Name() + "." + f.Name
			if f.Type == reflect.TypeFor[time.Time]() {
				continue
			}
			switch f.Type.Kind() {
			case reflect.Slice:
				if !copied[name] {
					t.Errorf("%s (%s) is not copied by connConfig.clone", name, owner)
				}
				if el := f.Type.Elem(); el.Kind() == reflect.Struct {
					check(el, name)
				}
			case reflect.Map, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func:
				if !copied[name] {
					t.Errorf("%s (%s) is not copied by connConfig.clone", name, owner)
				}
			case reflect.Struct:
				check(f.Type, name)
			}
		}
	}
	check(reflect.TypeFor[store.SAMLConfig](), "SAML")
	check(reflect.TypeFor[store.OIDCConfig](), "OIDC")
}

// TestConfigCacheCopies proves each decode returns a config of its own.
func TestConfigCacheCopies(t *testing.T) {
	raw := `{"saml":{"idp_entity_id":"e","sp_keys":[{"id":"key_1","state":"active"}],"attribute_map":{"email":"mail"}},"oidc":{"scopes":["openid"]}}`
	var c configCache
	for i := range 3 {
		cc, err := c.decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if cc.SAML.SPKeys[0].State != "active" || cc.SAML.AttributeMap["email"] != "mail" || cc.OIDC.Scopes[0] != "openid" || cc.SAML.IdPEntityID != "e" {
			t.Fatalf("decode %d: got a config changed by an earlier caller: %+v %+v", i, cc.SAML, cc.OIDC)
		}
		cc.SAML.SPKeys[0].State = "retired"
		cc.SAML.AttributeMap["email"] = "changed"
		cc.OIDC.Scopes[0] = "changed"
		cc.SAML.IdPEntityID = "changed"
	}
	if _, err := c.decode(`{"saml":`); err == nil {
		t.Fatal("truncated JSON decoded")
	}
}
