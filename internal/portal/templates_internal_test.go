package portal

import (
	"io/fs"
	"strings"
	"testing"
)

// TestParsePagesHasEveryTemplate: every page template in templates/ is
// parsed, each with the layout it is rendered through.
func TestParsePagesHasEveryTemplate(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		p, ok := pages[base]
		if !ok {
			t.Errorf("%s: not parsed", n)
			continue
		}
		if p.Lookup("layout") == nil {
			t.Errorf("%s: parsed without the layout", n)
		}
	}
	if len(pages) != len(names)-1 {
		t.Errorf("%d pages parsed from %d files (one is the layout)", len(pages), len(names))
	}
}
