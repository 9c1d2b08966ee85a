package failure

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestCatalogueComplete checks that every Code constant declared in this
// package has a title, an explanation and a fix.
func TestCatalogueComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "failure.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil || fmt.Sprint(vs.Type) != "Code" {
			return true
		}
		for _, v := range vs.Values {
			lit := v.(*ast.BasicLit).Value
			code := Code(lit[1 : len(lit)-1])
			r, ok := Catalogue[code]
			if !ok || r.Title == "" || r.Explanation == "" || r.Fix == "" {
				t.Errorf("code %s has no complete catalogue entry", code)
			}
			n++
		}
		return true
	})
	if n < 30 || n != len(Catalogue) {
		t.Fatalf("%d codes declared, %d in the catalogue", n, len(Catalogue))
	}
}

func TestErrorHelpers(t *testing.T) {
	cause := errors.New("boom")
	err := fmt.Errorf("wrapped: %w", New(SignatureInvalid, cause))
	if CodeOf(err) != SignatureInvalid || !errors.Is(err, cause) {
		t.Fatalf("CodeOf/Unwrap: %v", err)
	}
	if CodeOf(cause) != InternalError {
		t.Fatal("untyped error should be internal")
	}
	e := Newf(Replayed, "assertion %s", "_a1")
	if e.Message() != "The response was already used: assertion _a1" {
		t.Fatalf("message %q", e.Message())
	}
}

// TestDocumented checks that docs/sso.md lists every failure code.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../../docs/sso.md")
	if err != nil {
		t.Skip("docs/sso.md not found")
	}
	for code := range Catalogue {
		if !strings.Contains(string(b), "`"+string(code)+"`") {
			t.Errorf("docs/sso.md does not list %s", code)
		}
	}
}
