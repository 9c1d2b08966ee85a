package saml

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast path's XML reader. It reads only the plain XML that SAML
// responses are made of and refuses everything else (the caller then falls
// back to crewjam, which decides): no DOCTYPE, comments, processing
// instructions (other than the XML declaration) or CDATA; no carriage
// returns; ASCII names with at most one colon and prefixes that start with
// a lower-case letter; every prefix declared; no duplicate attributes; no
// literal tab or newline in attribute values (parsers disagree on their
// normalisation); bounded depth, size and node count. What it accepts, it
// reads into the same tree as encoding/xml and etree do (FuzzReader).

// Bounds of the fast path's reader.
const (
	maxReaderDepth = 48
	maxReaderNodes = 20000
	maxReaderAttrs = 32
)

// errReader is why the reader refused a document. The fast path never
// reports it: the document goes to crewjam instead.
var errReader = errors.New("saml fast path: not plain XML")

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

const (
	kindElement uint8 = iota + 1
	kindText
)

// xnode is an element or a text node.
type xnode struct {
	kind uint8
	// Element: prefix and local name as written, the namespace URI they
	// resolve to, its attributes and namespace declarations (ranges of
	// xdoc.attrs and xdoc.decls) and its children as a linked list.
	prefix, local, ns   string
	attrLo, attrHi      int32
	declLo, declHi      int32
	parent              int32
	first, last, next   int32
	depth               int32
	text                string // text node: the decoded character data
	hasAttrPrefixedOnce bool   // element: one prefixed (non-xmlns) attribute
}

// xattr is an attribute other than a namespace declaration, value decoded.
type xattr struct {
	prefix, local, ns, value string
}

// xdecl is a namespace declaration: prefix "" is the default namespace.
type xdecl struct {
	prefix, uri string
}

// xdoc is a document read by readXML.
type xdoc struct {
	nodes []xnode
	attrs []xattr
	decls []xdecl
	root  int32
	// scope is the namespace stack while reading.
	scope []xdecl
}

func (d *xdoc) reset() {
	d.nodes = d.nodes[:0]
	d.attrs = d.attrs[:0]
	d.decls = d.decls[:0]
	d.scope = d.scope[:0]
	d.root = -1
}

// readXML reads s into d. Any error means "not plain XML".
func (d *xdoc) readXML(s string) error {
	d.reset()
	if !utf8.ValidString(s) || strings.IndexByte(s, '\r') >= 0 || strings.Contains(s, "\uFFFE") || strings.Contains(s, "\uFFFF") {
		return errReader
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' {
			return errReader
		}
	}
	p := 0
	if strings.HasPrefix(s, "<?xml") {
		end := strings.Index(s, "?>")
		if end < 0 || len(s) < 6 || !isSpace(s[5]) {
			return errReader
		}
		decl := s[5:end]
		if strings.ContainsAny(decl, "<>&") || !xmlDeclOK(decl) {
			return errReader
		}
		p = end + 2
	}
	p = skipSpace(s, p)
	if p >= len(s) || s[p] != '<' {
		return errReader
	}
	cur := int32(-1) // the open element
	for p < len(s) {
		if s[p] != '<' {
			if cur < 0 {
				// Only white space may follow the root element.
				if q := skipSpace(s, p); q != len(s) {
					return errReader
				}
				return d.finish(cur)
			}
			q := strings.IndexByte(s[p:], '<')
			if q < 0 {
				return errReader
			}
			raw := s[p : p+q]
			if strings.Contains(raw, "]]>") {
				return errReader
			}
			text, ok := decodeEntities(raw)
			if !ok {
				return errReader
			}
			if err := d.add(cur, xnode{kind: kindText, text: text}); err != nil {
				return err
			}
			p += q
			continue
		}
		if p+1 >= len(s) {
			return errReader
		}
		switch s[p+1] {
		case '!', '?':
			return errReader
		case '/':
			if cur < 0 {
				return errReader
			}
			prefix, local, q, ok := readQName(s, p+2)
			if !ok {
				return errReader
			}
			q = skipSpace(s, q)
			if q >= len(s) || s[q] != '>' {
				return errReader
			}
			n := &d.nodes[cur]
			if prefix != n.prefix || local != n.local {
				return errReader
			}
			d.scope = d.scope[:len(d.scope)-int(n.declHi-n.declLo)]
			cur = n.parent
			p = q + 1
			if cur < 0 {
				if skipSpace(s, p) != len(s) {
					return errReader
				}
				return d.finish(cur)
			}
			continue
		}
		if cur < 0 && d.root >= 0 {
			return errReader // a second root
		}
		var err error
		var empty bool
		var idx int32
		idx, p, empty, err = d.startTag(s, p+1, cur)
		if err != nil {
			return err
		}
		if d.root < 0 {
			d.root = idx
		}
		if empty {
			n := &d.nodes[idx]
			d.scope = d.scope[:len(d.scope)-int(n.declHi-n.declLo)]
			if cur < 0 {
				if skipSpace(s, p) != len(s) {
					return errReader
				}
				return d.finish(cur)
			}
		} else {
			cur = idx
		}
	}
	return errReader // unclosed element
}

func (d *xdoc) finish(cur int32) error {
	if cur >= 0 || d.root < 0 {
		return errReader
	}
	return nil
}

// add appends node x as the last child of parent.
func (d *xdoc) add(parent int32, x xnode) error {
	if len(d.nodes) >= maxReaderNodes {
		return errReader
	}
	x.parent, x.first, x.last, x.next = parent, -1, -1, -1
	idx := int32(len(d.nodes))
	d.nodes = append(d.nodes, x)
	if parent >= 0 {
		pn := &d.nodes[parent]
		if pn.last >= 0 {
			d.nodes[pn.last].next = idx
		} else {
			pn.first = idx
		}
		pn.last = idx
	}
	return nil
}

// startTag reads a start tag from s[p:] (just after '<').
func (d *xdoc) startTag(s string, p int, parent int32) (idx int32, next int, empty bool, err error) {
	depth := int32(0)
	if parent >= 0 {
		depth = d.nodes[parent].depth + 1
	}
	if depth >= maxReaderDepth {
		return 0, 0, false, errReader
	}
	prefix, local, q, ok := readQName(s, p)
	if !ok {
		return 0, 0, false, errReader
	}
	el := xnode{kind: kindElement, prefix: prefix, local: local, depth: depth,
		attrLo: int32(len(d.attrs)), declLo: int32(len(d.decls))}
	for {
		sp := q
		q = skipSpace(s, q)
		if q >= len(s) {
			return 0, 0, false, errReader
		}
		if s[q] == '>' {
			q++
			break
		}
		if s[q] == '/' {
			if q+1 >= len(s) || s[q+1] != '>' {
				return 0, 0, false, errReader
			}
			q += 2
			empty = true
			break
		}
		if q == sp { // attributes are separated by white space
			return 0, 0, false, errReader
		}
		ap, al, r, ok := readQName(s, q)
		if !ok {
			return 0, 0, false, errReader
		}
		r = skipSpace(s, r)
		if r >= len(s) || s[r] != '=' {
			return 0, 0, false, errReader
		}
		r = skipSpace(s, r+1)
		if r >= len(s) || (s[r] != '"' && s[r] != '\'') {
			return 0, 0, false, errReader
		}
		end := strings.IndexByte(s[r+1:], s[r])
		if end < 0 {
			return 0, 0, false, errReader
		}
		raw := s[r+1 : r+1+end]
		if strings.ContainsAny(raw, "<\t\n") || strings.Contains(raw, "]]>") {
			return 0, 0, false, errReader
		}
		val, ok := decodeEntities(raw)
		if !ok {
			return 0, 0, false, errReader
		}
		q = r + 1 + end + 1
		switch {
		case ap == "" && al == "xmlns":
			if val == "" || val == nsXMLNS || val == nsXML {
				return 0, 0, false, errReader
			}
			d.decls = append(d.decls, xdecl{"", val})
		case ap == "xmlns":
			if al == "xml" || al == "xmlns" || val == "" || val == nsXMLNS || val == nsXML || !lowerStart(al) {
				return 0, 0, false, errReader
			}
			d.decls = append(d.decls, xdecl{al, val})
		default:
			d.attrs = append(d.attrs, xattr{prefix: ap, local: al, value: val})
		}
		if len(d.attrs)-int(el.attrLo)+len(d.decls)-int(el.declLo) > maxReaderAttrs {
			return 0, 0, false, errReader
		}
	}
	el.attrHi, el.declHi = int32(len(d.attrs)), int32(len(d.decls))
	// Duplicate declarations.
	decls := d.decls[el.declLo:el.declHi]
	for i := range decls {
		for j := i + 1; j < len(decls); j++ {
			if decls[i].prefix == decls[j].prefix {
				return 0, 0, false, errReader
			}
		}
	}
	d.scope = append(d.scope, decls...)
	if el.ns, ok = d.lookup(prefix); !ok {
		d.scope = d.scope[:len(d.scope)-len(decls)]
		return 0, 0, false, errReader
	}
	attrs := d.attrs[el.attrLo:el.attrHi]
	prefixed := 0
	for i := range attrs {
		a := &attrs[i]
		if a.prefix != "" {
			prefixed++
			if a.ns, ok = d.lookup(a.prefix); !ok || a.prefix == "xml" {
				d.scope = d.scope[:len(d.scope)-len(decls)]
				return 0, 0, false, errReader
			}
		}
		for j := 0; j < i; j++ {
			b := &attrs[j]
			if (a.prefix == b.prefix && a.local == b.local) || (a.prefix != "" && a.ns == b.ns && a.local == b.local) {
				d.scope = d.scope[:len(d.scope)-len(decls)]
				return 0, 0, false, errReader
			}
		}
	}
	// Canonical attribute order with several prefixed attributes depends
	// on their namespace URIs, which implementations get wrong; SAML
	// elements carry at most one (xsi:type).
	if prefixed > 1 {
		d.scope = d.scope[:len(d.scope)-len(decls)]
		return 0, 0, false, errReader
	}
	el.hasAttrPrefixedOnce = prefixed == 1
	idx = int32(len(d.nodes))
	if err := d.add(parent, el); err != nil {
		return 0, 0, false, err
	}
	return idx, q, empty, nil
}

// lookup resolves a prefix in the current scope. The unprefixed name with
// no default namespace is in no namespace.
func (d *xdoc) lookup(prefix string) (string, bool) {
	for i := len(d.scope) - 1; i >= 0; i-- {
		if d.scope[i].prefix == prefix {
			return d.scope[i].uri, true
		}
	}
	if prefix == "" {
		return "", true
	}
	return "", false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func skipSpace(s string, p int) int {
	for p < len(s) && isSpace(s[p]) {
		p++
	}
	return p
}

func lowerStart(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }

func nameStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func nameChar(c byte) bool {
	return nameStart(c) || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// readQName reads prefix:local or local at s[p:]. Prefixes start with a
// lower-case letter (crewjam renames others before unmarshalling).
func readQName(s string, p int) (prefix, local string, next int, ok bool) {
	start := p
	if p >= len(s) || !nameStart(s[p]) {
		return "", "", 0, false
	}
	for p < len(s) && nameChar(s[p]) {
		p++
	}
	if p < len(s) && s[p] == ':' {
		prefix = s[start:p]
		if !lowerStart(prefix) {
			return "", "", 0, false
		}
		p++
		ls := p
		if p >= len(s) || !nameStart(s[p]) {
			return "", "", 0, false
		}
		for p < len(s) && nameChar(s[p]) {
			p++
		}
		if p < len(s) && s[p] == ':' {
			return "", "", 0, false
		}
		return prefix, s[ls:p], p, true
	}
	return "", s[start:p], p, true
}

// xmlDeclOK accepts version="1.0", an optional UTF-8 encoding and
// standalone, and nothing else.
func xmlDeclOK(decl string) bool {
	f := strings.Fields(decl)
	for _, kv := range f {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
			return false
		}
		v = v[1 : len(v)-1]
		switch k {
		case "version":
			if v != "1.0" {
				return false
			}
		case "encoding":
			if !strings.EqualFold(v, "utf-8") {
				return false
			}
		case "standalone":
			if v != "yes" && v != "no" {
				return false
			}
		default:
			return false
		}
	}
	return len(f) > 0 && strings.HasPrefix(f[0], "version=")
}

// decodeEntities decodes the predefined entities and character references.
func decodeEntities(raw string) (string, bool) {
	i := strings.IndexByte(raw, '&')
	if i < 0 {
		return raw, true
	}
	var b strings.Builder
	b.Grow(len(raw))
	for {
		b.WriteString(raw[:i])
		raw = raw[i:]
		semi := strings.IndexByte(raw, ';')
		if semi < 0 {
			return "", false
		}
		name := raw[1:semi]
		switch name {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "apos":
			b.WriteByte('\'')
		case "quot":
			b.WriteByte('"')
		default:
			if len(name) < 2 || name[0] != '#' {
				return "", false
			}
			num, base := name[1:], 10
			if num[0] == 'x' {
				num, base = num[1:], 16
			}
			if num == "" || len(num) > 8 || strings.ContainsAny(num, "+-_") {
				return "", false
			}
			n, err := strconv.ParseUint(num, base, 32)
			if err != nil || !xmlChar(rune(n)) {
				return "", false
			}
			b.WriteRune(rune(n))
		}
		raw = raw[semi+1:]
		if i = strings.IndexByte(raw, '&'); i < 0 {
			b.WriteString(raw)
			return b.String(), true
		}
	}
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
