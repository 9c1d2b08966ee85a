package id

import (
	"sort"
	"testing"
)

// TestOrderAndShape: IDs carry their prefix and sort in creation order,
// also within one millisecond.
func TestOrderAndShape(t *testing.T) {
	var ids []string
	for range 1000 {
		ids = append(ids, New("org"))
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("IDs made in sequence do not sort in sequence")
	}
	for _, s := range ids[:3] {
		if !HasPrefix(s, "org") || HasPrefix(s, "conn") {
			t.Errorf("HasPrefix wrong for %q", s)
		}
	}
	for _, bad := range []string{"org_", "org_123", "org_01J00000000000000000000000x", "conn_01J00000000000000000000000"} {
		if HasPrefix(bad, "org") {
			t.Errorf("HasPrefix(%q, org) = true", bad)
		}
	}
}
