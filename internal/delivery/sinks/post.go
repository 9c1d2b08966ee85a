package sinks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
)

// maxAnswer bounds how much of a destination's answer is read.
const maxAnswer = 64 << 10

// Answer is a destination's reply to a successful request.
type Answer struct {
	Status int
	Body   []byte // at most 64 KiB
}

// Post sends body to url through client (a netguard client) and returns the
// answer, or a Failure for a transport error or a non-2xx status. explain,
// if set, turns a non-2xx answer into the destination's own words (or a
// more specific Failure); otherwise an excerpt of the body is quoted.
func (t Target) Post(ctx context.Context, client *http.Client, url string, header http.Header, body []byte,
	explain func(status int, body []byte) *delivery.Failure) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, t.Fail(InvalidConfig, 0, "The URL cannot be used.", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, t.FromError(ctx, err)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Answer{}, t.FromError(ctx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Answer{Status: resp.StatusCode, Body: ans}, nil
	}
	if explain != nil {
		if f := explain(resp.StatusCode, ans); f != nil {
			return Answer{}, f
		}
	}
	return Answer{}, t.FromStatus(resp.StatusCode, Quote(ans))
}

// Quote renders the start of a destination's answer for a message:
// `It answered: "…"`, or "" for an empty or binary answer.
func Quote(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || !utf8.ValidString(s) {
		return ""
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return fmt.Sprintf("It answered: %q", s)
}
