package portal

import (
	"testing"
	"time"
)

func TestVerifiedText(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		at   time.Time
		want string
	}{
		{"never", time.Time{}, "Not yet used by a sign-in"},
		{"seconds ago", now.Add(-30 * time.Second), "Verified a sign-in just now"},
		{"minutes ago", now.Add(-3*time.Minute - 10*time.Second), "Verified a sign-in 3 minutes ago"},
		{"an hour ago", now.Add(-90 * time.Minute), "Verified a sign-in an hour ago"},
		{"hours ago", now.Add(-5 * time.Hour), "Verified a sign-in 5 hours ago"},
		{"days ago", now.Add(-72 * time.Hour), "Last verified a sign-in on 29 Nov 2026"},
	}
	for _, c := range cases {
		if got := verifiedText(c.at, now); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
