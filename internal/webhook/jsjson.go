package webhook

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsStringify rewrites the string escapes of compact JSON b into the form
// JavaScript's JSON.stringify writes, so that in Node
// JSON.stringify(JSON.parse(body)) gives back body byte for byte. It
// matters because @workos-inc/node's constructEvent takes the parsed body
// and signs JSON.stringify of it: Go's encoder writes &, <, >, U+2028 and
// U+2029 as \u0026, \u003c, \u003e, \u2028, \u2029, which JSON.stringify
// does not, so an organization named "AT&T" would fail verification.
//
// JSON.stringify escapes only '"', '\\', control characters (\b \t \n \f \r
// by their short names, others as \u00xx) and lone surrogates (\udxxx);
// every other character is written as itself. Outside strings b is left
// alone: it must already be compact (json.Marshal output is). Invalid
// escapes are copied unchanged.
func jsStringify(b []byte) []byte {
	first := -1
	for i, c := range b {
		if c == '\\' {
			first = i
			break
		}
	}
	if first < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:first]...)
	for i := first; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		switch e := b[i+1]; e {
		case '/':
			out = append(out, '/')
			i++
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				out = append(out, c, e)
				i++
				continue
			}
			n := 6
			if utf16.IsSurrogate(r) && r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						r, n = pair, 12
					}
				}
			}
			out = appendJSRune(out, r)
			i += n - 1
		default:
			out = append(out, c, e)
			i++
		}
	}
	return out
}

// hex4 reads the four hex digits of a \u escape at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(v), err == nil
}

// appendJSRune appends r inside a JSON string as JSON.stringify writes it.
func appendJSRune(out []byte, r rune) []byte {
	const hexDigits = "0123456789abcdef"
	switch {
	case r == '"':
		return append(out, '\\', '"')
	case r == '\\':
		return append(out, '\\', '\\')
	case r == '\b':
		return append(out, '\\', 'b')
	case r == '\t':
		return append(out, '\\', 't')
	case r == '\n':
		return append(out, '\\', 'n')
	case r == '\f':
		return append(out, '\\', 'f')
	case r == '\r':
		return append(out, '\\', 'r')
	case r < 0x20 || utf16.IsSurrogate(r):
		return append(out, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	default:
		return utf8.AppendRune(out, r)
	}
}
