package store

import (
	"context"
	"time"
)

// PortalLink is a one-time Admin Portal link; only the SHA-256 of its
// token is stored.
type PortalLink struct {
	Hash           []byte
	OrganizationID string
	Intent         string // "" = the menu of every option
	ReturnURL      string
	SuccessURL     string
	// Options is the JSON of the link's intent options and IT contacts.
	Options   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PortalSession is a signed-in Admin Portal visit, scoped to one
// organization; only the SHA-256 of its cookie token is stored.
type PortalSession struct {
	Hash           []byte
	ID             string // portal_…, for logs and events
	OrganizationID string
	Intent         string
	ReturnURL      string
	SuccessURL     string
	Options        string
	CreatedAt      time.Time
	// IdleExpiresAt slides forward with use, never past ExpiresAt.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// Portal stores Admin Portal links and sessions.
type Portal interface {
	CreatePortalLink(ctx context.Context, l PortalLink) error
	// TakePortalLink returns and deletes a link, so it is used once, even
	// by two nodes at the same moment.
	TakePortalLink(ctx context.Context, hash []byte) (PortalLink, error)
	CreatePortalSession(ctx context.Context, s PortalSession) error
	GetPortalSession(ctx context.Context, hash []byte) (PortalSession, error)
	// TouchPortalSession moves a session's idle expiry to idleUntil, if it
	// has not expired by now.
	TouchPortalSession(ctx context.Context, hash []byte, now, idleUntil time.Time) error
	DeletePortalSession(ctx context.Context, hash []byte) error
	// DeleteExpiredPortal drops links and sessions that expired before now.
	DeleteExpiredPortal(ctx context.Context, now time.Time) error
}
