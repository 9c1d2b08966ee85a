package storetest_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestConformance runs the suite on every backend.
func TestConformance(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { storetest.Run(t, b.Open) })
	}
}
