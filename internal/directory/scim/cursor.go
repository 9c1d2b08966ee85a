package scim

import (
	"strconv"
	"sync"
	"time"
)

// Cursor cache limits.
const (
	// maxCursors bounds the cache; a walk needs one entry at a time.
	maxCursors = 4096
	// cursorTTL bounds how long a cursor is used; a walk asks for its next
	// page within moments.
	cursorTTL = time.Minute
	// totalTTL bounds how long a cached totalResults is reused. Writes
	// through this node invalidate it at once; this bounds how long another
	// node's writes can go unseen.
	totalTTL = 2 * time.Second
)

// cursors turns SCIM's startIndex, an offset, into a seek. A page that
// ends at position p of a listing (directory, resource type, filter)
// remembers the ID of its last row; a request for startIndex p+1 of the
// same listing then reads the rows after that ID instead of skipping p
// rows, and reuses the total the walk counted. Walking N users in pages of
// 100 therefore reads each row once instead of N²/200 rows. A cursor is
// used only while the directory has had no write through this node since
// it was made (so the page is exactly the one the offset names); without
// one the page is read by offset as before.
type cursors struct {
	mu sync.Mutex
	m  map[string]cursor
}

// cursor is where a listing stopped.
type cursor struct {
	lastID  string    // ID of the row at the position
	total   int       // totalResults when counted
	counted time.Time // when total was counted
	made    time.Time
	changes uint64 // the directory's write count when made
}

func cursorKey(dirID string, group bool, filter string, pos int) string {
	kind := "u"
	if group {
		kind = "g"
	}
	return dirID + "\x00" + kind + "\x00" + filter + "\x00" + strconv.Itoa(pos)
}

// take returns and removes the cursor for key if it is still valid for
// a directory at write count changes.
func (c *cursors) take(key string, changes uint64, now time.Time) (cursor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.m[key]
	if !ok {
		return cursor{}, false
	}
	delete(c.m, key)
	if cur.changes != changes || now.Sub(cur.made) > cursorTTL {
		return cursor{}, false
	}
	return cur, true
}

// put stores a cursor, first dropping expired ones if the cache is full
// (and, if that is not enough, any: a lost cursor only costs an offset read).
func (c *cursors) put(key string, cur cursor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cursor{}
	}
	if len(c.m) >= maxCursors {
		for k, v := range c.m {
			if cur.made.Sub(v.made) > cursorTTL {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < maxCursors {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = cur
}
