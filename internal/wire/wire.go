// Package wire holds the WorkOS JSON conventions every feature's API shapes
// share: timestamps and nullable strings. It has no HTTP in it, so services
// and storage can use it without importing the HTTP plumbing of internal/api.
package wire

import "time"

// TimeFormat is WorkOS's timestamp format: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Time formats t for the wire.
func Time(t time.Time) string { return t.UTC().Format(TimeFormat) }

// TimePtr formats t, or returns nil (JSON null) for the zero time.
func TimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := Time(t)
	return &s
}

// StrPtr returns nil (JSON null) for "", else &s.
func StrPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
