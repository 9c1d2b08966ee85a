package api

import (
	"strings"
	"testing"
)

// TestValidRequestID: a client's X-Request-ID is kept only when it is 1 to
// 128 characters of A-Z, a-z, 0-9 and "._:-"; anything else (it is logged
// and echoed) is replaced.
func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"simple", "abc-123", true},
		{"every allowed character", "AZaz09._:-", true},
		{"one character", "x", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"space", "abc 123", false},
		{"newline (log injection)", "abc\n123", false},
		{"slash", "a/b", false},
		{"quote", `a"b`, false},
		{"non-ASCII", "abcé", false},
		{"NUL", "a\x00b", false},
		{"just below 0", "a/", false},
		{"just above 9", "a;", false},
		{"just below A", "a@", false},
		{"just above Z", "a[", false},
		{"just below a", "a`", false},
		{"just above z", "a{", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validRequestID(tc.id); got != tc.want {
				t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
