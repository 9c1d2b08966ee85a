package sinks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCatalogueComplete checks that every code constant has a message and
// a fix, and that docs/events.md lists it.
func TestCatalogueComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "failure.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		gd, ok := node.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			return true
		}
		for _, spec := range gd.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				code, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
				r, ok := Catalogue[code]
				if !ok || r.Message == "" || r.Fix == "" {
					t.Errorf("code %s has no complete catalogue entry", code)
				}
				if !strings.Contains(string(doc), "| `"+code+"` |") {
					t.Errorf("docs/events.md does not list the failure code %s", code)
				}
				n++
			}
		}
		return false
	})
	if n < 10 || n != len(Catalogue) {
		t.Fatalf("%d codes declared, %d in the catalogue", n, len(Catalogue))
	}
}

func TestFailureWording(t *testing.T) {
	tg := Target{Name: "Datadog", Secrets: []string{"sekrit-value"}, Fixes: map[string]string{Unauthorized: "Check the API key."}}
	cases := []struct {
		name    string
		code    string
		status  int
		detail  string
		message string
		fix     string
	}{
		{"destination named, status shown, own fix", Unauthorized, 403, "", "Datadog refused the credentials (wrong or revoked key or token) (HTTP 403).", "Check the API key."},
		{"default fix, quoted answer with the secret redacted", ServerError, 502, `It answered: "bad sekrit-value"`, `Datadog had an internal error (5xx) (HTTP 502). It answered: "bad [redacted]"`, Catalogue[ServerError].Fix},
		{"no status", Timeout, 0, "", "Datadog did not answer in time.", Catalogue[Timeout].Fix},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := tg.Fail(c.code, c.status, c.detail, nil)
			if f.Message != c.message || f.Fix != c.fix || f.Status != c.status || f.Retryable != Catalogue[c.code].Retryable {
				t.Fatalf("got %q / %q, want %q / %q", f.Message, f.Fix, c.message, c.fix)
			}
		})
	}
}
