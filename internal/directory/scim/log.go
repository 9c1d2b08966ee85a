package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Log limits.
const (
	maxLoggedBody   = 8 << 10
	maxBuffered     = 10000
	flushBatch      = 100
	flushInterval   = 500 * time.Millisecond
	logRetention    = 7 * 24 * time.Hour
	retentionPeriod = time.Hour
)

// RequestLog keeps every SCIM request of every directory for
// troubleshooting (GET /directories/{id}/scim_requests). Entries are buffered briefly and written in
// batches, so logging does not double the write transactions of a
// provisioning burst (SQLite has one writer). A crash loses at most the
// last flush interval of log entries, never directory data.
type RequestLog struct {
	Store store.Store
	Log   *slog.Logger

	mu   sync.Mutex
	buf  []store.SCIMRequest
	kick chan struct{}
	once sync.Once
}

func (l *RequestLog) init() {
	l.once.Do(func() { l.kick = make(chan struct{}, 1) })
}

// Add buffers one entry; the oldest are dropped if the database cannot keep up.
func (l *RequestLog) Add(e store.SCIMRequest) {
	l.init()
	l.mu.Lock()
	if len(l.buf) >= maxBuffered {
		l.buf = l.buf[1:]
	}
	l.buf = append(l.buf, e)
	full := len(l.buf) >= flushBatch*5
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Flush writes the buffered entries now.
func (l *RequestLog) Flush(ctx context.Context) {
	l.mu.Lock()
	buf := l.buf
	l.buf = nil
	l.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), flushBatch)
		if err := l.Store.AppendSCIMRequests(ctx, buf[:n]); err != nil {
			// A directory deleted meanwhile fails its batch's foreign key:
			// write the batch one by one so the others survive.
			for _, e := range buf[:n] {
				if err := l.Store.AppendSCIMRequests(ctx, []store.SCIMRequest{e}); err != nil && l.Log != nil {
					l.Log.DebugContext(ctx, "scim request log: drop entry", "directory_id", e.DirectoryID, "err", err)
				}
			}
		}
		buf = buf[n:]
	}
}

// FlushEvery is how often the buffer should be flushed (by a periodic job
// that also listens to Wake, and flushes once more at shutdown).
const FlushEvery = flushInterval

// PruneEvery is how often old entries should be pruned (Prune).
const PruneEvery = retentionPeriod

// Wake receives when the buffer fills faster than FlushEvery drains it.
func (l *RequestLog) Wake() <-chan struct{} {
	l.init()
	return l.kick
}

// Prune deletes entries older than the log's retention.
func (l *RequestLog) Prune(ctx context.Context) error {
	return l.Store.DeleteSCIMRequestsBefore(ctx, time.Now().Add(-logRetention))
}

// redact removes secrets from a logged body: every "password" attribute,
// and the value of PATCH operations whose path is a password.
func redact(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if !bytes.Contains(bytes.ToLower(body), []byte("password")) {
		return truncate(string(body)) // nothing to remove: skip the JSON round trip
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return truncate(string(body))
	}
	v = redactValue(v)
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return truncate(string(b))
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		isPasswordOp := false
		for k, e := range x {
			if strings.EqualFold(k, "path") {
				if s, ok := e.(string); ok && strings.Contains(strings.ToLower(s), "password") {
					isPasswordOp = true
				}
			}
		}
		for k, e := range x {
			switch {
			case strings.EqualFold(k, "password"), isPasswordOp && strings.EqualFold(k, "value"):
				x[k] = "[redacted]"
			default:
				x[k] = redactValue(e)
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
		return x
	}
	return v
}

func truncate(s string) string {
	if len(s) <= maxLoggedBody {
		return s
	}
	return s[:maxLoggedBody] + "…[truncated]"
}
