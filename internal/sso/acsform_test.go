package sso

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// viaParseForm is what the ACS did before acsForm: the reference.
func viaParseForm(r *http.Request) (string, string, error) {
	if err := r.ParseForm(); err != nil {
		return "", "", err
	}
	return r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState"), nil
}

func acsRequest(target, contentType, body string, limit int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if limit > 0 {
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	}
	return r
}

// checkSameAsParseForm fails t unless acsForm answers the request exactly
// as ParseForm + PostForm.Get does.
func checkSameAsParseForm(t *testing.T, target, contentType, body string, limit int64) {
	t.Helper()
	gotResp, gotRelay, gotErr := acsForm(acsRequest(target, contentType, body, limit))
	wantResp, wantRelay, wantErr := viaParseForm(acsRequest(target, contentType, body, limit))
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("error = %v, ParseForm's = %v (body %q)", gotErr, wantErr, body)
	}
	var gotBig, wantBig *http.MaxBytesError
	if errors.As(gotErr, &gotBig) != errors.As(wantErr, &wantBig) {
		t.Fatalf("too-large error = %v, ParseForm's = %v", gotErr, wantErr)
	}
	if gotResp != wantResp || gotRelay != wantRelay {
		t.Fatalf("got (%q, %q), ParseForm gives (%q, %q) for body %q", gotResp, gotRelay, wantResp, wantRelay, body)
	}
}

func TestACSFormMatchesParseForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, target, contentType, body string
		limit                           int64
	}{
		{"usual post", "/acs", form, "SAMLResponse=PHNhbWw%2BPC9zYW1sPg%3D%3D&RelayState=abc", 0},
		{"relay state first", "/acs", form, "RelayState=r1&SAMLResponse=QUJD", 0},
		{"plus is a space", "/acs", form, "SAMLResponse=a+b&RelayState=c+d", 0},
		{"first value wins", "/acs", form, "SAMLResponse=one&SAMLResponse=two&RelayState=x&RelayState=y", 0},
		{"no fields", "/acs", form, "", 0},
		{"empty pairs", "/acs", form, "&&SAMLResponse=x&&", 0},
		{"key without value", "/acs", form, "SAMLResponse&RelayState=", 0},
		{"escaped key", "/acs", form, "SAML%52esponse=x", 0},
		{"bad escape in the response", "/acs", form, "SAMLResponse=%zz", 0},
		{"truncated escape", "/acs", form, "SAMLResponse=abc%4", 0},
		{"bad escape in another field", "/acs", form, "SAMLResponse=x&other=%G1", 0},
		{"semicolon", "/acs", form, "SAMLResponse=x;RelayState=y", 0},
		{"semicolon in a value", "/acs", form, "SAMLResponse=x&RelayState=a;b", 0},
		{"charset parameter", "/acs", form + "; charset=utf-8", "SAMLResponse=x", 0},
		{"bad content type", "/acs", "application/x-www-form-urlencoded; =", "SAMLResponse=x", 0},
		{"json body", "/acs", "application/json", `{"SAMLResponse":"x"}`, 0},
		{"no content type", "/acs", "", "SAMLResponse=x", 0},
		{"query string", "/acs?RelayState=q", form, "SAMLResponse=x", 0},
		{"bad query string", "/acs?a=%zz", form, "SAMLResponse=x", 0},
		{"body over the limit", "/acs", form, "SAMLResponse=" + strings.Repeat("A", 200), 64},
		{"more pairs than url.ParseQuery takes", "/acs", form, "SAMLResponse=QUJD&RelayState=r" + strings.Repeat("&", 10000), 0},
		{"a few empty pairs", "/acs", form, "SAMLResponse=QUJD" + strings.Repeat("&", 15), 0},
		{"non-ASCII bytes", "/acs", form, "SAMLResponse=%C3%A9\xff&RelayState=%00", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSameAsParseForm(t, tc.target, tc.contentType, tc.body, tc.limit)
		})
	}
}

func FuzzACSForm(f *testing.F) {
	for _, s := range []string{"SAMLResponse=PHNhbWw%2B&RelayState=abc", "a=%zz", "SAMLResponse=a+b;c", "%=&=%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkSameAsParseForm(t, "/acs", "application/x-www-form-urlencoded", body, 0)
	})
}
