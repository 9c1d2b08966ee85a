package s3

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignV4AWSExample: the GET Object example of Amazon's SigV4 for S3
// documentation (sig-v4-header-based-auth.html), signature and all.
func TestSignV4AWSExample(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	signV4(req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
		time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
}

// TestPutObjectSignedAsTheSDKSigns: the PutObject requests the sink sends
// carry the Authorization header the AWS SDK's own SigV4 signer computes for
// them (S3 signs the path encoded once), for each way of addressing a bucket
// and keys that need escaping.
func TestPutObjectSignedAsTheSDKSigns(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		cfg     Config
		key     string
		wantURL string
	}{
		{"AWS, virtual-hosted", Config{Bucket: "siem-logs", Region: "eu-west-1"},
			"gatehouse/2026/03/04/event_01.ndjson", "https://siem-logs.s3.eu-west-1.amazonaws.com/gatehouse/2026/03/04/event_01.ndjson"},
		{"AWS, default region", Config{Bucket: "siem-logs"},
			"a.ndjson", "https://siem-logs.s3.us-east-1.amazonaws.com/a.ndjson"},
		{"AWS, bucket with a dot goes in the path", Config{Bucket: "logs.example.com", Region: "eu-west-1"},
			"a.ndjson", "https://s3.eu-west-1.amazonaws.com/logs.example.com/a.ndjson"},
		{"custom endpoint, path style", Config{Bucket: "siem", Region: "auto", Endpoint: "http://minio.internal:9000", ForcePathStyle: true},
			"sp ace/ü+=&~.ndjson", "http://minio.internal:9000/siem/sp%20ace/%C3%BC%2B%3D%26~.ndjson"},
		{"custom endpoint with a path, virtual-hosted", Config{Bucket: "siem", Region: "eu-central-1", Endpoint: "https://store.example/base/"},
			"k.ndjson", "https://siem.store.example/base/k.ndjson"},
		{"AWS China region", Config{Bucket: "siem-logs", Region: "cn-north-1"},
			"a.ndjson", "https://siem-logs.s3.cn-north-1.amazonaws.com.cn/a.ndjson"},
		{"endpoint given as an IP address goes path style", Config{Bucket: "siem", Region: "auto", Endpoint: "http://10.0.0.5:9000"},
			"a.ndjson", "http://10.0.0.5:9000/siem/a.ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AccessKeyID, tc.cfg.SecretAccessKey = "AKIAGATEHOUSETEST", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
			s := New(tc.cfg, http.DefaultClient)
			s.now = func() time.Time { return at }
			body := []byte(`{"id":"event_01"}` + "\n")
			req, err := s.putObject(context.Background(), tc.key, body)
			if err != nil {
				t.Fatal(err)
			}
			if got := req.URL.String(); got != tc.wantURL {
				t.Errorf("URL %s, want %s", got, tc.wantURL)
			}
			ours := req.Header.Get("Authorization")

			theirs := req.Clone(context.Background())
			theirs.Header.Del("Authorization")
			theirs.Header.Del("X-Amz-Date")
			err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
				aws.Credentials{AccessKeyID: tc.cfg.AccessKeyID, SecretAccessKey: tc.cfg.SecretAccessKey},
				theirs, req.Header.Get("X-Amz-Content-Sha256"), "s3", s.cfg.Region, at)
			if err != nil {
				t.Fatal(err)
			}
			if want := theirs.Header.Get("Authorization"); ours != want {
				t.Errorf("Authorization:\n got %s\nwant %s", ours, want)
			}
			if !strings.Contains(ours, "content-length;content-type;host;x-amz-content-sha256;x-amz-date") {
				t.Errorf("signed headers: %s", ours)
			}
		})
	}
}
