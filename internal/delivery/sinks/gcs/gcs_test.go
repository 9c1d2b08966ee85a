package gcs

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/sinktest"
)

const accessToken = "ya29.gatehouse-test-token"

var (
	keyOnce sync.Once
	saKey   *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		saKey = k
	})
	return saKey
}

// credentials returns a service-account key file whose token_uri is the
// given token server, signed with k.
func credentials(t *testing.T, k *rsa.PrivateKey, tokenURI string) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme", "private_key_id": "kid1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "siem@acme.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI,
	})
	return string(b)
}

// tokenServer is Google's OAuth token endpoint for the JWT-bearer grant
// (RFC 7523): it checks the assertion's RS256 signature against the
// service account's public key, its issuer, audience and scope, and
// answers 400 invalid_grant otherwise.
func tokenServer(t *testing.T, pub *rsa.PublicKey) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(desc string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, desc)
		}
		r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			refuse("bad grant type")
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if len(parts) != 3 {
			refuse("malformed JWT")
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			refuse("Invalid JWT Signature.")
			return
		}
		var claims struct {
			Iss, Aud, Scope string
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(payload, &claims)
		if claims.Iss != "siem@acme.iam.gserviceaccount.com" || claims.Aud != "http://"+r.Host+"/token" || claims.Scope != Scope {
			refuse(fmt.Sprintf("bad claims %+v", claims))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, accessToken)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// storage is fake-gcs-server behind the JSON API's authorisation: with
// requireToken, a request without the bearer token answers 401 as Google
// does. force answers that status with Google's error body instead.
func storage(t *testing.T, requireToken bool, force int) (*fakestorage.Server, *httptest.Server) {
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "siem-logs"})
	h := fake.HTTPHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer := func(status int, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"code":%d,"message":%q}}`, status, msg)
		}
		if force != 0 {
			answer(force, http.StatusText(force))
			return
		}
		if requireToken && r.Header.Get("Authorization") != "Bearer "+accessToken {
			answer(401, "Invalid Credentials")
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return fake, srv
}

func TestUploadWithServiceAccount(t *testing.T) {
	k := key(t)
	tokens := tokenServer(t, &k.PublicKey)
	fake, srv := storage(t, true, 0)
	s, err := New(Config{Bucket: "siem-logs", Prefix: "gatehouse", CredentialsJSON: credentials(t, k, tokens.URL+"/token"), Endpoint: srv.URL}, sinktest.Client())
	if err != nil {
		t.Fatal(err)
	}
	evs := sinktest.Events(6)
	for _, b := range [][]delivery.Event{evs[:2], evs[2:]} {
		if err := s.Send(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	var recs []sinks.Record
	for _, name := range []string{"gatehouse/2026/03/04/event_0000.ndjson", "gatehouse/2026/03/04/event_0002.ndjson"} {
		obj, err := fake.GetObject("siem-logs", name)
		if err != nil {
			t.Fatalf("object %s: %v", name, err)
		}
		if obj.ContentType != "application/x-ndjson" {
			t.Fatalf("content type %q", obj.ContentType)
		}
		recs = append(recs, sinktest.DecodeRecords(t, obj.Content)...)
	}
	sinktest.CheckRecords(t, recs, evs)
}

func TestUploadToEmulatorWithoutCredentials(t *testing.T) {
	fake, srv := storage(t, false, 0)
	s, err := New(Config{Bucket: "siem-logs", Endpoint: srv.URL}, sinktest.Client())
	if err != nil {
		t.Fatal(err)
	}
	evs := sinktest.Events(2)
	if err := s.Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	obj, err := fake.GetObject("siem-logs", "2026/03/04/event_0000.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	sinktest.CheckRecords(t, sinktest.DecodeRecords(t, obj.Content), evs)
}

func TestFailures(t *testing.T) {
	k := key(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		signWith  *rsa.PrivateKey // nil = no credentials
		bucket    string
		force     int
		client    *http.Client
		code      string
		retryable bool
	}{
		{"revoked key refused by the token endpoint", other, "siem-logs", 0, nil, sinks.Unauthorized, false},
		{"no token where one is required", nil, "siem-logs", 0, nil, sinks.Unauthorized, false},
		{"bucket missing", k, "no-such-bucket", 0, nil, sinks.BucketNotFound, false},
		{"403 no permission", k, "siem-logs", 403, nil, sinks.Forbidden, false},
		{"429 rate limited", k, "siem-logs", 429, nil, sinks.RateLimited, true},
		{"503 retryable", k, "siem-logs", 503, nil, sinks.ServerError, true},
		{"loopback refused by netguard (token request too)", k, "siem-logs", 0, sinktest.StrictClient(), sinks.ForbiddenTarget, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tokens := tokenServer(t, &k.PublicKey)
			_, srv := storage(t, true, c.force)
			cfg := Config{Bucket: c.bucket, Endpoint: srv.URL}
			if c.signWith != nil {
				cfg.CredentialsJSON = credentials(t, c.signWith, tokens.URL+"/token")
			}
			client := c.client
			if client == nil {
				client = sinktest.Client()
			}
			s, err := New(cfg, client)
			if err != nil {
				t.Fatal(err)
			}
			f := sinktest.CheckFailure(t, s.Send(context.Background(), sinktest.Events(1)), c.code, c.retryable, "PRIVATE KEY", accessToken)
			if c.code == sinks.Forbidden && !strings.Contains(f.Fix, "siem@acme.iam.gserviceaccount.com") {
				t.Fatalf("fix does not name the service account: %s", f.Fix)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	good := credentials(t, key(t), "https://oauth2.googleapis.com/token")
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"service account key", good, true},
		{"not JSON", "hello", false},
		{"user credentials", `{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`, false},
		{"key missing", `{"type":"service_account","client_email":"a@b"}`, false},
		{"key not PEM", `{"type":"service_account","client_email":"a@b","private_key":"nope"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCredentials([]byte(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

var _ delivery.Sink = (*Sink)(nil)
