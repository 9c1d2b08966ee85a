package webhook

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestJSStringify: Go's escapes become what JSON.stringify writes (the
// expected strings are what Node 20 prints for
// JSON.stringify(JSON.parse(in))), and the JSON means the same.
func TestJSStringify(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"no escapes", `{"a":"b","n":1.5}`, `{"a":"b","n":1.5}`},
		{"html escapes", `{"n":"AT\u0026T \u003cR\u0026D\u003e"}`, `{"n":"AT&T <R&D>"}`},
		{"line separators", `{"n":"a\u2028b\u2029c"}`, "{\"n\":\"a\u2028b\u2029c\"}"},
		{"quote and backslash kept", `{"n":"say \"hi\" \\ there"}`, `{"n":"say \"hi\" \\ there"}`},
		{"escaped backslash before u", `{"n":"\\u003c"}`, `{"n":"\\u003c"}`},
		{"short control escapes kept", `{"n":"\b\f\n\r\t"}`, `{"n":"\b\f\n\r\t"}`},
		{"long control escapes", `{"n":"\u0008\u0001\u001F"}`, `{"n":"\b\u0001\u001f"}`},
		{"escaped quote as u", `{"n":"\u0022\u005c"}`, `{"n":"\"\\"}`},
		{"solidus", `{"n":"a\/b"}`, `{"n":"a/b"}`},
		{"uppercase hex", `{"n":"\u00E9\u003C"}`, `{"n":"é<"}`},
		{"surrogate pair", `{"n":"\ud83d\ude00"}`, `{"n":"😀"}`},
		{"lone surrogate", `{"n":"\ud83d!"}`, `{"n":"\ud83d!"}`},
		{"escape in key", `{"a\u0026b":1}`, `{"a&b":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(jsStringify([]byte(tc.in)))
			if got != tc.want {
				t.Errorf("jsStringify(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzJSStringify: whatever Go marshals, the rewritten JSON is valid and
// decodes to the same value.
func FuzzJSStringify(f *testing.F) {
	for _, s := range []string{"AT&T <b>", "\u2028\u2029", `"\`, "\x00\x1f\x7f", "😀 é 東京", "\\u003c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, _ := json.Marshal(map[string]any{"k" + s: s, "list": []string{s, s + s}})
		out := jsStringify(in)
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("%s → invalid %s: %v", in, out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s → %s changed the value", in, out)
		}
	})
}
