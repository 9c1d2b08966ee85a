// Package s3 is the S3 log-stream sink: each batch becomes one NDJSON
// object, <prefix>/YYYY/MM/DD/<first-event-id>.ndjson, written with the AWS
// SDK through the netguard client. A custom endpoint with path-style
// addressing serves S3-compatible stores (MinIO, Ceph, R2…).
package s3

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

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
	client *s3.Client
	target sinks.Target
}

// New returns a sink whose SDK client sends through httpClient (a netguard
// client). The SDK does not retry: the delivery engine does.
func New(cfg Config, httpClient *http.Client) *Sink {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	opts := s3.Options{
		Region:                     cfg.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		HTTPClient:                 httpClient,
		Retryer:                    aws.NopRetryer{},
		UsePathStyle:               cfg.ForcePathStyle,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return &Sink{cfg: cfg, client: s3.New(opts), target: sinks.Target{
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
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.Key(batch)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/x-ndjson"),
	})
	if err != nil {
		return s.failure(ctx, err)
	}
	return nil
}

// failure maps an SDK error: S3's error codes first, then the HTTP status,
// then the transport error underneath.
func (s *Sink) failure(ctx context.Context, err error) *delivery.Failure {
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		detail := sinks.Quote([]byte(apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()))
		switch apiErr.ErrorCode() {
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
		if status != 0 {
			f := s.target.FromStatus(status, detail)
			f.Err = err
			return f
		}
	}
	if status != 0 {
		f := s.target.FromStatus(status, "")
		f.Err = err
		return f
	}
	return s.target.FromError(ctx, err)
}
