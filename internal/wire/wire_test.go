package wire

import (
	"testing"
	"time"
)

func TestTime(t *testing.T) {
	at := time.Date(2026, 1, 15, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"UTC with milliseconds", Time(at), "2026-01-15T12:00:00.123Z"},
		{"zero time is null", TimePtr(time.Time{}) == nil, true},
		{"set time", *TimePtr(at), "2026-01-15T12:00:00.123Z"},
		{"empty string is null", StrPtr("") == nil, true},
		{"string", *StrPtr("x"), "x"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
