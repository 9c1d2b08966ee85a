package google

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
)

// defaultBaseURL is the Admin SDK's; defaultTokenURL is used when a key
// file names none.
const (
	defaultBaseURL  = "https://admin.googleapis.com/"
	defaultTokenURL = "https://oauth2.googleapis.com/token"
	// callTimeout bounds each call to Google (token or one page).
	callTimeout = 30 * time.Second
	// maxAnswer bounds what one answer may weigh (a page of 500 users
	// with every field is well under it).
	maxAnswer = 32 << 20
	// logBody is how much of a refusal's body goes to the debug log.
	logBody = 512
)

// CallError is a call to Google that failed: which call, and the HTTP
// status or the transport error. It never carries the body of Google's
// answer: that is a third party's text (the token URL is whatever the
// customer's key file names), so it goes to the debug log, truncated,
// and never into an error shown to a caller.
type CallError struct {
	Op      string // "token request", "list users", …
	Status  int    // the HTTP status; 0 when there was no answer
	Code    string // a token refusal's RFC 6749 §5.2 error code, when it is one
	Problem string // what was wrong with a 2xx answer, in our words
	Err     error  // the transport error when there was no answer
}

func (e *CallError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	case e.Problem != "":
		return fmt.Sprintf("%s: %s", e.Op, e.Problem)
	case e.Code != "":
		return fmt.Sprintf("%s: HTTP %d (%s)", e.Op, e.Status, e.Code)
	}
	return fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
}

// Unwrap returns the transport error.
func (e *CallError) Unwrap() error { return e.Err }

// answer is the status and, for a token refusal, its OAuth error code.
func (e *CallError) answer() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d, %s", e.Status, e.Code)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// tokenOp names the token exchange in a CallError.
const tokenOp = "token request"

// oauthCodes are the token error codes of RFC 6749 §5.2: only these are
// repeated from a refusal (any other "error" value is the server's text).
var oauthCodes = []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}

// serviceAccount is the part of a Google service-account key file that the
// JWT bearer grant (RFC 7523) needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
	key          *rsa.PrivateKey
}

func invalidKey(why string, err error) error {
	return &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_credentials",
		Message: "The Google service account key is not valid JSON key material: " + why + ".", Err: err}
}

func parseServiceAccount(b []byte) (serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, invalidKey("it is not JSON", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" {
		return sa, invalidKey(`it needs "type": "service_account" and a client_email`, nil)
	}
	if sa.TokenURI == "" {
		sa.TokenURI = defaultTokenURL
	}
	blk, _ := pem.Decode([]byte(sa.PrivateKey))
	if blk == nil {
		return sa, invalidKey("private_key is not PEM", nil)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return sa, invalidKey("private_key is not an RSA key", err)
		}
	}
	var ok bool
	if sa.key, ok = k.(*rsa.PrivateKey); !ok {
		return sa, invalidKey("private_key is not an RSA key", nil)
	}
	return sa, nil
}

// apiClient makes the calls of one pull: the token exchange and paged GETs
// of the Admin SDK Directory API, all through the SSRF-guarded client.
type apiClient struct {
	http    *http.Client
	log     *slog.Logger
	base    string
	sa      serviceAccount
	subject string // the admin the service account acts as
	token   string
	expiry  time.Time
}

func (s *Syncer) client(g directory.GoogleSettings) (*apiClient, error) {
	sa, err := parseServiceAccount([]byte(g.CredentialsJSON))
	if err != nil {
		return nil, err
	}
	if _, err := s.Guard.CheckURL(sa.TokenURI); err != nil {
		if errors.Is(err, netguard.ErrForbiddenTarget) {
			return nil, &CallError{Op: tokenOp, Err: err}
		}
		return nil, invalidKey("token_uri must be an http(s) URL", err)
	}
	base := defaultBaseURL
	if s.BaseURL != "" {
		base = strings.TrimRight(s.BaseURL, "/") + "/"
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &apiClient{http: s.httpClient(), log: log, base: base, sa: sa, subject: g.AdminEmail}, nil
}

// accessToken returns a token for the admin, exchanging a signed JWT for
// one when none is held or it is about to expire (RFC 7523 §2.1).
func (c *apiClient) accessToken(ctx context.Context) (string, error) {
	if c.token != "" && time.Until(c.expiry) > time.Minute {
		return c.token, nil
	}
	const op = tokenOp
	now := time.Now()
	assertion, err := c.assertion(now)
	if err != nil {
		return "", &CallError{Op: op, Err: err}
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.sa.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &CallError{Op: op, Problem: "the key file's token_uri is not a URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := c.do(ctx, op, req)
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) && ce.Status != 0 {
			var e struct{ Error string }
			if json.Unmarshal(body, &e) == nil && slices.Contains(oauthCodes, e.Error) {
				ce.Code = e.Error
			}
		}
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", &CallError{Op: op, Status: http.StatusOK, Problem: "the answer has no access_token"}
	}
	c.token, c.expiry = tok.AccessToken, now.Add(time.Duration(max(tok.ExpiresIn, 60))*time.Second)
	return c.token, nil
}

// assertion is the JWT that asks for a token acting as the admin.
func (c *apiClient) assertion(now time.Time) (string, error) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := map[string]string{"alg": "RS256", "typ": "JWT"}
	if c.sa.PrivateKeyID != "" {
		head["kid"] = c.sa.PrivateKeyID
	}
	claims := map[string]any{"iss": c.sa.ClientEmail, "sub": c.subject, "aud": c.sa.TokenURI,
		"scope": strings.Join(Scopes, " "), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	signed := enc(head) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.sa.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// do sends req and returns the answer's body. A non-2xx answer is a
// *CallError with its status (the body is returned too, for the caller to
// pick a known code from, and logged at debug level, truncated).
func (c *apiClient) do(ctx context.Context, op string, req *http.Request) ([]byte, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &CallError{Op: op, Err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return nil, &CallError{Op: op, Err: err}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		c.log.DebugContext(ctx, "google workspace: call refused", "op", op, "status", res.StatusCode,
			"body", string(body[:min(len(body), logBody)]))
		return body, &CallError{Op: op, Status: res.StatusCode}
	}
	if len(body) > maxAnswer {
		return nil, &CallError{Op: op, Status: res.StatusCode, Problem: "the answer is larger than " + strconv.Itoa(maxAnswer>>20) + " MiB"}
	}
	return body, nil
}

// get GETs one Admin SDK path with the admin's token.
func (c *apiClient) get(ctx context.Context, op, path string, q url.Values) ([]byte, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"admin/directory/v1/"+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	return c.do(ctx, op, req)
}

// list reads every page of an Admin SDK list (nextPageToken paging) and
// decodes the items under field.
func list[T any](ctx context.Context, c *apiClient, path string, q url.Values, field, op string, dec func([]byte) (T, error)) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for {
		body, err := c.get(ctx, op, path, q)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		var items []json.RawMessage
		var next string
		if json.Unmarshal(body, &page) != nil || (page[field] != nil && json.Unmarshal(page[field], &items) != nil) ||
			(page["nextPageToken"] != nil && json.Unmarshal(page["nextPageToken"], &next) != nil) {
			return nil, &CallError{Op: op, Status: http.StatusOK, Problem: "the answer is not a " + field + " page"}
		}
		for _, raw := range items {
			v, err := dec(raw)
			if err != nil {
				return nil, &CallError{Op: op, Status: http.StatusOK, Problem: "an item of the answer is not a valid " + field + " entry"}
			}
			out = append(out, v)
		}
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, &CallError{Op: op, Status: http.StatusOK, Problem: "the answer's pages loop"}
		}
		seen[next] = true
		q.Set("pageToken", next)
	}
}

// user is the part of an Admin SDK user that a pull maps; raw keeps all of
// it for raw_attributes.
type user struct {
	ID           string `json:"id"`
	PrimaryEmail string `json:"primaryEmail"`
	Suspended    bool   `json:"suspended"`
	Archived     bool   `json:"archived"`
	Name         *struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		FullName   string `json:"fullName"`
	} `json:"name"`
	Emails []struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	} `json:"emails"`
	Organizations []struct {
		Title      string `json:"title"`
		Department string `json:"department"`
		CostCenter string `json:"costCenter"`
		Name       string `json:"name"`
	} `json:"organizations"`
	ExternalIDs []typedValue `json:"externalIds"`
	Relations   []typedValue `json:"relations"`
	raw         map[string]any
}

type typedValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// group is an Admin SDK group.
type group struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// member is an Admin SDK group member: a USER or a nested GROUP.
type member struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// decode decodes one item; a field of an unexpected type is left empty
// rather than failing the pull (the Admin SDK types several fields
// loosely), but an item that is not an object fails.
func decode[T any](raw []byte) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		err = nil
	}
	return v, err
}

func decodeUser(raw []byte) (user, error) {
	u, err := decode[user](raw)
	if err == nil {
		err = json.Unmarshal(raw, &u.raw)
	}
	return u, err
}
