package sqlstore

import (
	"fmt"
	"reflect"
	"strings"
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
		cc, err := c.decode("conn_1", raw)
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
	if _, err := c.decode("conn_1", `{"saml":`); err == nil {
		t.Fatal("truncated JSON decoded")
	}
}

// TestConfigCacheStaysBounded: versions of one connection replace each
// other, and many large configs never hold more than the byte budget.
func TestConfigCacheStaysBounded(t *testing.T) {
	var c configCache
	for i := range 100 {
		raw := fmt.Sprintf(`{"saml":{"idp_entity_id":"v%d"}}`, i)
		cc, err := c.decode("conn_1", raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("v%d", i); cc.SAML.IdPEntityID != want {
			t.Fatalf("version %d decoded as %q", i, cc.SAML.IdPEntityID)
		}
	}
	if len(c.m) != 1 {
		t.Fatalf("%d entries for one connection, want 1", len(c.m))
	}
	big := `{"saml":{"idp_metadata_xml":"` + strings.Repeat("x", configCacheBytes/10) + `"}}`
	for i := range 40 {
		if _, err := c.decode(fmt.Sprintf("conn_%d", i), big); err != nil {
			t.Fatal(err)
		}
		if c.bytes > configCacheBytes {
			t.Fatalf("cache holds %d bytes, budget %d", c.bytes, configCacheBytes)
		}
	}
}
