package sso

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestStaleVerification: a sign-in writes its certificate's last
// verification only when none is recorded or the recorded one is a minute
// old or more, so a busy connection adds no write per login.
func TestStaleVerification(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	s := &Service{Now: func() time.Time { return now }}
	certs := []store.Certificate{
		{Fingerprint: "never"},
		{Fingerprint: "recent", LastVerifiedAt: now.Add(-59 * time.Second)},
		{Fingerprint: "minute", LastVerifiedAt: now.Add(-time.Minute)},
		{Fingerprint: "old", LastVerifiedAt: now.Add(-time.Hour)},
	}
	cases := []struct {
		name, signer, want string
	}{
		{"never verified a sign-in", "never", "never"},
		{"verified 59 seconds ago", "recent", ""},
		{"verified a minute ago", "minute", "minute"},
		{"verified an hour ago", "old", "old"},
		{"signer unknown to the validator", "", ""},
		{"not among the loaded certificates", "gone", ""},
	}
	for _, c := range cases {
		if got := s.staleVerification(certs, c.signer); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
