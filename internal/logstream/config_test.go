package logstream

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestURLRulesInProduction checks the rules that apply when private targets
// are not allowed (the apptest node allows them).
func TestURLRulesInProduction(t *testing.T) {
	cases := []struct {
		name string
		url  string
		ok   bool
	}{
		{"https public host", "https://collector.example.com/in", true},
		{"plain http", "http://collector.example.com/in", false},
		{"loopback address", "https://127.0.0.1:8088", false},
		{"cloud metadata address", "https://169.254.169.254/", false},
		{"localhost", "https://localhost:8088", false},
		{"query string", "https://collector.example.com/in?token=x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := validate(TypeSplunk, values{"url": c.url, "token": "t"}, netguard.Guard{})
			if (len(bad) == 0) != c.ok {
				t.Fatalf("errors %v, want ok=%v", bad, c.ok)
			}
		})
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"long secret shows its last four", "dd_api_key_0123456789abcdef", "••••cdef"},
		{"short secret shows nothing", "short", "••••"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Mask(c.in); got != c.want {
				t.Fatalf("%q, want %q", got, c.want)
			}
		})
	}
}

// TestLastErrorHidesAnswer: a stored delivery error keeps its reason and
// status but not the destination's quoted answer.
func TestLastErrorHidesAnswer(t *testing.T) {
	cases := []struct{ name, stored, want string }{
		{"quoted answer", `The HTTPS endpoint rejected the request (HTTP 400). It answered: "db_password=hunter2"`, "The HTTPS endpoint rejected the request (HTTP 400)."},
		{"no answer", "Datadog refused the credentials (HTTP 403).", "Datadog refused the credentials (HTTP 403)."},
	}
	for _, c := range cases {
		ls := LogStream{LogStream: store.LogStream{Type: TypeGenericHTTPS, LastErrorCode: "rejected", LastErrorText: c.stored}}
		if got := ls.JSON().LastError.Message; got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
