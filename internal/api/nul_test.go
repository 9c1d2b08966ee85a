package api

import "testing"

// TestHasNUL tells a JSON NUL escape from text that only looks like one.
func TestHasNUL(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{"plain", `{"a":"b"}`, false},
		{"escape", `{"a":"x\u0000y"}`, true},
		{"raw byte", "{\"a\":\"x\x00\"}", true},
		{"escaped backslash then text", `{"a":"\\u0000"}`, false},
		{"three backslashes", `{"a":"\\\u0000"}`, true},
		{"u0000 without backslash", `{"u0000":1}`, false},
		{"second occurrence", `{"a":"\\u0000","b":"\u0000"}`, true},
	}
	for _, tc := range cases {
		if got := HasNUL([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: HasNUL(%s) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
