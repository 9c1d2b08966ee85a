package saml

import (
	"bytes"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// goxmldsigC14N canonicalises el as goxmldsig does for a Reference with
// exclusive C14N: detached with the namespaces in scope, then transformed.
func goxmldsigC14N(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		t.Fatal(err)
	}
	if ctx, err = ctx.SubContext(el); err != nil {
		t.Fatal(err)
	}
	det, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(det)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees fails unless node n of d is the element el as etree read
// it (names, namespaces, attributes, declarations and character data, in
// order) and, if c14n is set, unless both canonicalise it to the same bytes.
func compareTrees(t testing.TB, d *xdoc, n int32, el *etree.Element, c14n bool) {
	t.Helper()
	x := &d.nodes[n]
	if x.kind != kindElement || x.prefix != el.Space || x.local != el.Tag || x.ns != el.NamespaceURI() {
		t.Fatalf("element %s:%s {%s}, etree %s:%s {%s}", x.prefix, x.local, x.ns, el.Space, el.Tag, el.NamespaceURI())
	}
	var decls []xdecl
	var attrs []xattr
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			decls = append(decls, xdecl{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			decls = append(decls, xdecl{"", a.Value})
		default:
			ns := ""
			if a.Space != "" {
				ns = a.NamespaceURI()
			}
			attrs = append(attrs, xattr{prefix: a.Space, local: a.Key, ns: ns, value: a.Value})
		}
	}
	if got := d.decls[x.declLo:x.declHi]; !equalSlices(got, decls) {
		t.Fatalf("%s: declarations %q, etree %q", x.local, got, decls)
	}
	if got := d.attrs[x.attrLo:x.attrHi]; !equalSlices(got, attrs) {
		t.Fatalf("%s: attributes %q, etree %q", x.local, got, attrs)
	}
	c := x.first
	for _, tok := range el.Child {
		if c < 0 {
			t.Fatalf("%s: etree has more children", x.local)
		}
		switch tok := tok.(type) {
		case *etree.CharData:
			if d.nodes[c].kind != kindText || d.nodes[c].text != tok.Data {
				t.Fatalf("%s: text %q, etree %q", x.local, d.nodes[c].text, tok.Data)
			}
		case *etree.Element:
			compareTrees(t, d, c, tok, c14n)
		default:
			t.Fatalf("%s: etree has a %T the reader should have refused", x.local, tok)
		}
		c = d.nodes[c].next
	}
	if c >= 0 {
		t.Fatalf("%s: the reader has more children", x.local)
	}
	if c14n {
		mine := d.c14n(nil, n, -1, nil)
		if theirs := goxmldsigC14N(t, el); !bytes.Equal(mine, theirs) {
			t.Fatalf("C14N of %s differs:\nfast path %s\ngoxmldsig %s", x.local, mine, theirs)
		}
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkAgainstEtree reads in with the reader; if it accepts, etree must
// read the same tree and goxmldsig canonicalise every element alike.
func checkAgainstEtree(t testing.TB, in []byte) bool {
	t.Helper()
	var d xdoc
	if d.readXML(string(in)) != nil {
		return false
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(in); err != nil {
		t.Fatalf("the reader accepted what etree refuses (%v): %q", err, in)
	}
	if doc.Root() == nil {
		t.Fatalf("the reader accepted a document without a root: %q", in)
	}
	compareTrees(t, &d, d.root, doc.Root(), true)
	return true
}

var readerSeeds = []string{
	`<a/>`,
	`<?xml version="1.0" encoding="UTF-8"?><a x="1" y='2'>t&amp;x&lt;&gt;&quot;&apos;&#65;&#x42;</a>`,
	`<p:a xmlns:p="urn:p" xmlns="urn:d"><b c="&#9;&#10;"><p:c/></b> </p:a>`,
	`<a xmlns:x="urn:x" x:y="1" z="2"><x:b xmlns:x="urn:other"/></a>`,
	`<a><b/><b/>text<c>more</c></a>`,
	`<a xmlns="urn:a"><b xmlns="urn:b"><c/></b></a>`,
	`<!DOCTYPE a><a/>`, `<a><!-- c --></a>`, `<a><![CDATA[x]]></a>`, `<a x="1" x="2"/>`, `<p:a/>`,
	`<a>]]></a>`, "<a>\r\n</a>", `<a x="a
b"/>`, `<a xmlns:p=""/>`, `<A:b xmlns:A="urn:a"/>`, `<a></b>`, `<a/><b/>`,
}

// FuzzReader checks the strict reader against etree (and the in-place
// C14N against goxmldsig) on arbitrary input.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	p := newTestIdP(f)
	for _, o := range []testidp.ResponseOptions{{}, {Signing: testidp.SignAssertion}, {OmitKeyInfo: true}} {
		f.Add(p.response(f, o))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAgainstEtree(t, in)
	})
}

// TestReaderAndC14N runs the reader seeds and real responses through the
// etree and goxmldsig comparison, and checks the enveloped form: every
// signed element canonicalised without its Signature as goxmldsig does.
func TestReaderAndC14N(t *testing.T) {
	accepted := 0
	for _, s := range readerSeeds {
		if checkAgainstEtree(t, []byte(s)) {
			accepted++
		}
	}
	if accepted < 6 {
		t.Fatalf("the reader accepted %d seeds", accepted)
	}
	p := newTestIdP(t)
	for _, o := range []testidp.ResponseOptions{{}, {Signing: testidp.SignAssertion}, {Signing: testidp.SignResponse}} {
		raw := p.response(t, o)
		if !checkAgainstEtree(t, raw) {
			t.Fatalf("the reader refuses %s", raw)
		}
		checkEnveloped(t, raw)
	}
}

// checkEnveloped compares the digest input of every signed element.
func checkEnveloped(t testing.TB, raw []byte) {
	t.Helper()
	var d xdoc
	if err := d.readXML(string(raw)); err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	var walk func(n int32, el *etree.Element)
	signed := 0
	walk = func(n int32, el *etree.Element) {
		c := d.nodes[n].first
		var sigNode int32 = -1
		var sigEl *etree.Element
		for _, tok := range el.Child {
			if e, ok := tok.(*etree.Element); ok {
				if e.Tag == "Signature" && e.NamespaceURI() == nsDSig {
					sigNode, sigEl = c, e
				} else {
					walk(c, e)
				}
			}
			c = d.nodes[c].next
		}
		if sigEl == nil {
			return
		}
		signed++
		cp := el.Copy()
		cp.RemoveChildAt(sigEl.Index())
		// Keep cp in its place in the tree for the namespace context.
		parent := el.Parent()
		if parent != nil {
			parent.InsertChildAt(el.Index(), cp)
			defer parent.RemoveChild(cp)
		}
		mine := d.c14n(nil, n, sigNode, nil)
		if theirs := goxmldsigC14N(t, cp); !bytes.Equal(mine, theirs) {
			t.Fatalf("enveloped C14N of %s differs:\nfast path %s\ngoxmldsig %s", el.Tag, mine, theirs)
		}
	}
	walk(d.root, doc.Root())
	if signed == 0 {
		t.Fatal("no signed element")
	}
}
