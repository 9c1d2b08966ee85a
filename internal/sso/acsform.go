package sso

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// acsBodies holds the buffers ACS forms are read into. A SAMLResponse is
// typically 8–30 KB of form; http.Request.ParseForm grows a fresh buffer
// for it, copies it to a string and unescapes it into a third copy, which
// was a third of the ACS's allocations.
var acsBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxFastPairs bounds the separators of a form the fast reader takes.
const maxFastPairs = 16

// errSlowPath sends a form the fast reader does not handle to ParseForm.
var errSlowPath = errors.New("form needs the general parser")

// acsForm returns the first SAMLResponse and RelayState of the ACS form
// posted in r, with the same results and errors as r.ParseForm followed by
// r.PostForm.Get. r.Body must be bounded (the ACS wraps it in
// http.MaxBytesReader): the form is read whole, where ParseForm alone
// would stop at 10 MB. The usual form (urlencoded, plain keys, valid escapes) is
// read into a pooled buffer and only the two values are unescaped; any
// other form goes through ParseForm on the bytes already read.
func acsForm(r *http.Request) (samlResponse, relayState string, err error) {
	// A query string is parsed (and its errors reported) by ParseForm too.
	if r.Method != http.MethodPost || r.URL.RawQuery != "" || !isURLEncoded(r.Header.Get("Content-Type")) {
		if err := r.ParseForm(); err != nil {
			return "", "", err
		}
		return r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState"), nil
	}
	buf := acsBodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 256<<10 { // keep the pool's buffers ordinary-sized
			buf.Reset()
			acsBodies.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return "", "", err
	}
	samlResponse, relayState, err = scanACSForm(buf.Bytes())
	if errors.Is(err, errSlowPath) {
		r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
		if err := r.ParseForm(); err != nil {
			return "", "", err
		}
		return r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState"), nil
	}
	return samlResponse, relayState, err
}

func isURLEncoded(contentType string) bool {
	if contentType == "application/x-www-form-urlencoded" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// scanACSForm finds the two fields in an urlencoded body. Keys that need
// unescaping, a ';' (which ParseForm refuses) and bad escapes return
// errSlowPath, so ParseForm decides and words the error.
func scanACSForm(body []byte) (samlResponse, relayState string, err error) {
	// url.ParseQuery refuses a form of more than 10,000 pairs (or as set
	// by GODEBUG=urlmaxqueryparams); an ACS form has two or three, so any
	// form with more than a few goes to ParseForm, which decides.
	if bytes.Count(body, []byte("&")) >= maxFastPairs {
		return "", "", errSlowPath
	}
	var gotResponse, gotRelay bool
	for len(body) > 0 {
		pair := body
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if bytes.IndexByte(pair, ';') >= 0 {
			return "", "", errSlowPath
		}
		key, value := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, value = pair[:i], pair[i+1:]
		}
		if bytes.ContainsAny(key, "%+") {
			return "", "", errSlowPath
		}
		var dst *string
		switch {
		case !gotResponse && string(key) == "SAMLResponse":
			dst, gotResponse = &samlResponse, true
		case !gotRelay && string(key) == "RelayState":
			dst, gotRelay = &relayState, true
		default:
			// ParseForm would refuse a bad escape anywhere in the form.
			if !validEscapes(value) {
				return "", "", errSlowPath
			}
			continue
		}
		v, ok := unescapeForm(value)
		if !ok {
			return "", "", errSlowPath
		}
		*dst = v
	}
	return samlResponse, relayState, nil
}

// unescapeForm decodes an application/x-www-form-urlencoded value ('+' is
// a space, %XX a byte) with one allocation, the result.
func unescapeForm(v []byte) (string, bool) {
	if bytes.IndexByte(v, '%') < 0 && bytes.IndexByte(v, '+') < 0 {
		return string(v), true
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '%' {
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return "", false
			}
			i += 2
		}
		n++
	}
	var out strings.Builder
	out.Grow(n)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '%':
			out.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
		case '+':
			out.WriteByte(' ')
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), true
}

func validEscapes(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == '%' {
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
