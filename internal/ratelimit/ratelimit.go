// Package ratelimit is an in-memory token-bucket limiter keyed by a string
// (an API key ID, a client address), with bounded memory. Buckets live in
// one process: with several nodes each allows its own rate.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxKeys bounds the buckets a Limiter keeps; see Limiter.MaxKeys.
const DefaultMaxKeys = 100_000

// Limiter allows each key Rate requests per second with bursts of Burst.
// A nil *Limiter allows everything.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64
	// full is how long an untouched bucket takes to refill completely;
	// after that it is the same as no bucket and can be dropped.
	full time.Duration

	// Now is the clock (tests set it); nil = time.Now.
	Now func() time.Time
	// MaxKeys bounds memory: when that many keys have buckets, one is
	// dropped for each new key even if it is not yet full.
	MaxKeys int
	// Rejected, if set, counts refused requests.
	Rejected prometheus.Counter

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of perSecond requests per key with bursts of twice
// that, or nil (no limit) when perSecond is 0 or less.
func New(perSecond int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	r, b := float64(perSecond), 2*float64(perSecond)
	return &Limiter{rate: r, burst: b, full: time.Duration(b / r * float64(time.Second)), MaxKeys: DefaultMaxKeys,
		buckets: map[string]*bucket{}}
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.full {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.MaxKeys {
			l.dropOne()
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.Rejected != nil {
		l.Rejected.Inc()
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled completely: forgetting them
// changes nothing.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// dropOne makes room for a new key when MaxKeys are busy (someone is
// spraying addresses); the dropped key starts again with a full bucket.
func (l *Limiter) dropOne() {
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}

// Len is the number of buckets kept.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RetryAfterSeconds is d rounded up to whole seconds, at least 1: the
// value of a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
