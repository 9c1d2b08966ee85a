package organization

import (
	"strings"
	"testing"
)

// FuzzNormalizeDomain feeds arbitrary admin input to the domain parser: it
// must never panic, and what it accepts must be canonical and stable.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "Example.COM.", "bücher.example", "https://x.y/z", "a@b.c", "*.x.y",
		"192.0.2.1", "xn--bcher-kva.example", "a..b", "-a.b", strings.Repeat("a.", 200), "\x00.com", "ex ample.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, msg := NormalizeDomain(in)
		if (out == "") == (msg == "") {
			t.Fatalf("NormalizeDomain(%q) = %q, %q: exactly one must be set", in, out, msg)
		}
		if out == "" {
			return
		}
		if out != strings.ToLower(out) || strings.HasSuffix(out, ".") || len(out) > 253 || !strings.Contains(out, ".") {
			t.Fatalf("NormalizeDomain(%q) = %q is not canonical", in, out)
		}
		again, msg2 := NormalizeDomain(out)
		if again != out {
			t.Fatalf("not idempotent: %q → %q → %q (%s)", in, out, again, msg2)
		}
	})
}
