// Package s3 is the S3 log-stream sink: each batch becomes one NDJSON
// object, <prefix>/YYYY/MM/DD/<first-event-id>.ndjson, written by one
// SigV4-signed PutObject through the netguard client. A custom endpoint with
// path-style addressing serves S3-compatible stores (MinIO, Ceph, R2…).
//
// It speaks the one S3 call it needs over net/http instead of linking the
// AWS SDK, whose packages made the binary 8 MB larger and ran their init
// code on every start of every node, S3 stream or not (docs/benchmarks.md,
// Memory).
package s3

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
)

// Config is an S3 stream's destination.
type Config struct {
	Bucket          string
	Region          string // default us-east-1
	Prefix          string // optional key prefix, without leading or trailing "/"
	AccessKeyID     string
	SecretAccessKey string
	Endpoint        string // optional, for S3-compatible stores
	ForcePathStyle  bool   // bucket in the path, not the host name
}

// Sink writes batches to an S3 bucket.
type Sink struct {
	cfg    Config
	http   *http.Client
	target sinks.Target
	now    func() time.Time
}

// New returns a sink that sends through httpClient (a netguard client). It
// does not retry: the delivery engine does.
func New(cfg Config, httpClient *http.Client) *Sink {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	return &Sink{cfg: cfg, http: httpClient, now: time.Now, target: sinks.Target{
		Name:    "the S3 bucket " + cfg.Bucket,
		Secrets: []string{cfg.SecretAccessKey},
		Fixes: map[string]string{
			sinks.Unauthorized:   "Check the access key ID and secret access key (IAM → Users → Security credentials), paste them again and send a test event.",
			sinks.Forbidden:      "Allow the key's IAM user or role s3:PutObject on arn:aws:s3:::" + cfg.Bucket + "/*, and check that no bucket policy or SCP denies it.",
			sinks.BucketNotFound: "Check the bucket name and region, or create the bucket.",
			sinks.Rejected:       "Check the bucket's region and, for S3-compatible stores, the endpoint and path-style setting. The store's answer is quoted.",
		},
	}}
}

// Limits bounds one object to 10,000 events and 16 MiB.
func (s *Sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: 10000, MaxBytes: 16 << 20} }

// Key returns the object key for a batch: the date (UTC) and ID of its
// first event, so a re-sent batch overwrites its earlier copy.
func (s *Sink) Key(batch []delivery.Event) string {
	k := batch[0].CreatedAt.UTC().Format("2006/01/02") + "/" + batch[0].ID + ".ndjson"
	if s.cfg.Prefix != "" {
		k = s.cfg.Prefix + "/" + k
	}
	return k
}

// Send writes the batch as one NDJSON object.
func (s *Sink) Send(ctx context.Context, batch []delivery.Event) error {
	body, err := sinks.NDJSON(batch)
	if err != nil {
		return err
	}
	req, err := s.putObject(ctx, s.Key(batch), body)
	if err != nil {
		return s.target.FromError(ctx, err)
	}
	res, err := s.http.Do(req)
	if err != nil {
		return s.target.FromError(ctx, err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 == 2 {
		return nil
	}
	return s.failure(res.StatusCode, answer)
}

// putObject builds the signed PutObject request for key.
func (s *Sink) putObject(ctx context.Context, key string, body []byte) (*http.Request, error) {
	u, err := s.objectURL(key)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("s3 request: %w", err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	sum := sha256.Sum256(body)
	signV4(req, hex.EncodeToString(sum[:]), s.cfg.AccessKeyID, s.cfg.SecretAccessKey, s.cfg.Region, s.now())
	return req, nil
}

// objectURL addresses key in the bucket: virtual-hosted style
// (bucket.s3.region.amazonaws.com/key) unless path style is asked for or
// the bucket name has a dot, which a TLS certificate for *.s3… would not
// cover; then endpoint/bucket/key, as the AWS SDKs do.
func (s *Sink) objectURL(key string) (*url.URL, error) {
	base := s.cfg.Endpoint
	if base == "" {
		base = "https://s3." + s.cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(s.cfg.Region, "cn-") {
			base += ".cn" // the aws-cn partition
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("s3 endpoint %q is not an http(s) URL", base)
	}
	prefix := strings.TrimSuffix(u.Path, "/")
	if s.cfg.ForcePathStyle || strings.Contains(s.cfg.Bucket, ".") || net.ParseIP(u.Hostname()) != nil {
		prefix += "/" + s.cfg.Bucket
	} else {
		u.Host = s.cfg.Bucket + "." + u.Host
	}
	u.Path = prefix + "/" + key
	u.RawPath = escapePath(u.Path)
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// escapePath percent-encodes every byte of p but the unreserved characters
// and "/", as SigV4's canonical URI for S3 wants (encoded once).
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// signV4 adds AWS Signature Version 4 headers (X-Amz-Date,
// X-Amz-Content-Sha256, Authorization) for the S3 service to req, signing
// the host, the content length and every header req already has. payloadHash is the hex
// SHA-256 of the body.
func signV4(req *http.Request, payloadHash, keyID, secret, region string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string]string{"host": host}
	if req.ContentLength > 0 {
		values["content-length"] = strconv.FormatInt(req.ContentLength, 10)
	}
	for name, vs := range req.Header {
		values[strings.ToLower(name)] = strings.Join(strings.Fields(strings.Join(vs, ",")), " ")
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var headers strings.Builder
	for _, n := range names {
		headers.WriteString(n + ":" + values[n] + "\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{req.Method, req.URL.EscapedPath(), canonicalQuery(req.URL.Query()),
		headers.String(), signed, payloadHash}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	digest := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(digest[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{day, region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(hmacSHA256(key, toSign)))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery is SigV4's sorted, strictly encoded query string.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, escapeQuery(k)+"="+escapeQuery(v))
		}
	}
	return strings.Join(parts, "&")
}

func escapeQuery(s string) string {
	return strings.ReplaceAll(escapePath(s), "/", "%2F")
}

// failure maps S3's answer: its error code first, then the HTTP status.
func (s *Sink) failure(status int, answer []byte) *delivery.Failure {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(answer, &e) != nil || e.Code == "" {
		f := s.target.FromStatus(status, "")
		f.Err = fmt.Errorf("s3 PutObject: HTTP %d", status)
		return f
	}
	err := fmt.Errorf("s3 PutObject: HTTP %d, %s: %s", status, e.Code, e.Message)
	detail := sinks.Quote([]byte(e.Code + ": " + e.Message))
	switch e.Code {
	case "NoSuchBucket":
		return s.target.Fail(sinks.BucketNotFound, status, "", err)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		return s.target.Fail(sinks.Unauthorized, status, detail, err)
	case "AccessDenied", "AllAccessDisabled", "AccountProblem":
		return s.target.Fail(sinks.Forbidden, status, detail, err)
	case "EntityTooLarge":
		return s.target.Fail(sinks.PayloadTooLarge, status, detail, err)
	case "SlowDown", "TooManyRequests":
		return s.target.Fail(sinks.RateLimited, status, detail, err)
	}
	f := s.target.FromStatus(status, detail)
	f.Err = err
	return f
}
