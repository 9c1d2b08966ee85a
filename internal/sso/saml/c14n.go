package saml

// Exclusive XML Canonicalization 1.0 without comments and with an empty
// InclusiveNamespaces prefix list, written straight from the reader's tree
// into a caller's buffer: no copy of the tree, no detaching, no re-parse.
// The output is byte-identical to goxmldsig's for every tree the reader
// accepts (TestC14NMatchesGoxmldsig, FuzzC14N). The reader guarantees what
// this relies on: no comments or processing instructions, no xmlns=""
// undeclarations, at most one prefixed attribute per element.

// c14n appends the canonical form of element n to b, leaving out node
// skip (the enveloped Signature; -1 for none). rendered holds the
// namespace declarations output ancestors rendered (none for the apex).
func (d *xdoc) c14n(b []byte, n, skip int32, rendered []xdecl) []byte {
	x := &d.nodes[n]
	mark := len(rendered)

	// The visibly utilised prefixes: the element's own and its prefixed
	// attribute's. An unprefixed element in no namespace needs nothing.
	var attrNS xattr
	if x.hasAttrPrefixedOnce {
		for i := x.attrLo; i < x.attrHi; i++ {
			if d.attrs[i].prefix != "" {
				attrNS = d.attrs[i]
			}
		}
	}
	var need [2]xdecl
	k := 0
	want := func(prefix, uri string) {
		if prefix == "" && uri == "" {
			return
		}
		if v, ok := renderedURI(rendered[:mark], prefix); ok && v == uri {
			return
		}
		if k == 1 && need[0].prefix == prefix {
			return
		}
		need[k] = xdecl{prefix, uri}
		k++
	}
	want(x.prefix, x.ns)
	if attrNS.prefix != "" {
		want(attrNS.prefix, attrNS.ns)
	}
	if k == 2 && need[1].prefix < need[0].prefix {
		need[0], need[1] = need[1], need[0]
	}
	rendered = append(rendered, need[:k]...)

	b = append(b, '<')
	b = appendQName(b, x.prefix, x.local)
	for _, dcl := range need[:k] {
		if dcl.prefix == "" {
			b = append(b, ` xmlns="`...)
		} else {
			b = append(b, ` xmlns:`...)
			b = append(b, dcl.prefix...)
			b = append(b, `="`...)
		}
		b = escapeAttr(b, dcl.uri)
		b = append(b, '"')
	}
	// Unprefixed attributes sorted by name, then the prefixed one.
	var order [maxReaderAttrs]int32
	m := 0
	for i := x.attrLo; i < x.attrHi; i++ {
		if d.attrs[i].prefix != "" {
			continue
		}
		j := m
		for j > 0 && d.attrs[order[j-1]].local > d.attrs[i].local {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
		m++
	}
	for _, i := range order[:m] {
		b = append(b, ' ')
		b = append(b, d.attrs[i].local...)
		b = append(b, `="`...)
		b = escapeAttr(b, d.attrs[i].value)
		b = append(b, '"')
	}
	if attrNS.prefix != "" {
		b = append(b, ' ')
		b = appendQName(b, attrNS.prefix, attrNS.local)
		b = append(b, `="`...)
		b = escapeAttr(b, attrNS.value)
		b = append(b, '"')
	}
	b = append(b, '>')
	for c := x.first; c >= 0; c = d.nodes[c].next {
		if c == skip {
			continue
		}
		if d.nodes[c].kind == kindText {
			b = escapeText(b, d.nodes[c].text)
		} else {
			b = d.c14n(b, c, skip, rendered)
		}
	}
	b = append(b, "</"...)
	b = appendQName(b, x.prefix, x.local)
	return append(b, '>')
}

// renderedURI is the namespace the nearest rendering ancestor bound prefix to.
func renderedURI(r []xdecl, prefix string) (string, bool) {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i].prefix == prefix {
			return r[i].uri, true
		}
	}
	return "", false
}

func appendQName(b []byte, prefix, local string) []byte {
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ':')
	}
	return append(b, local...)
}

func escapeAttr(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

func escapeText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
