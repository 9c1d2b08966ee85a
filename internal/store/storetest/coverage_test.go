package storetest

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestEveryMethodIsCovered fails when a method of store.Store has no
// conformance test registered in covered, or when covered names a method
// or a test that does not exist, so that no store method is added without
// a test on both backends.
func TestEveryMethodIsCovered(t *testing.T) {
	tests := map[string]bool{}
	for _, tc := range suite() {
		if tests[tc.name] {
			t.Errorf("two conformance tests are named %q", tc.name)
		}
		tests[tc.name] = true
	}
	methods := map[string]bool{}
	st := reflect.TypeFor[store.Store]()
	for i := range st.NumMethod() {
		m := st.Method(i).Name
		methods[m] = true
		name, ok := covered[m]
		switch {
		case !ok:
			t.Errorf("store method %s has no conformance test: write one and add %q: \"<test name>\" to covered (coverage.go)", m, m)
		case !tests[name]:
			t.Errorf("covered[%q] names %q, which is not a conformance test", m, name)
		}
	}
	for m := range covered {
		if !methods[m] {
			t.Errorf("covered lists %s, which is not a method of store.Store", m)
		}
	}
}
