package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newAt(perSecond int) (*Limiter, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New(perSecond)
	l.Now = c.now
	return l, c
}

func TestBurstThenRefuseThenRefill(t *testing.T) {
	l, c := newAt(5) // 5/s, bursts of 10
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	l.Rejected = rejected
	for i := range 10 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("k")
	if ok {
		t.Fatal("11th request allowed")
	}
	if retry != 200*time.Millisecond || RetryAfterSeconds(retry) != 1 {
		t.Errorf("retry after %v (%d s), want 200ms (1 s)", retry, RetryAfterSeconds(retry))
	}
	var m dto.Metric
	rejected.Write(&m)
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("rejected counter = %v", got)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Error("another key shares the bucket")
	}
	c.add(200 * time.Millisecond)
	if ok, _ := l.Allow("k"); !ok {
		t.Error("refused after a token refilled")
	}
	if ok, _ := l.Allow("k"); ok {
		t.Error("allowed two after one token refilled")
	}
}

func TestNilAndOff(t *testing.T) {
	if New(0) != nil || New(-1) != nil {
		t.Fatal("a zero rate must mean no limiter")
	}
	var l *Limiter
	for range 1000 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatal("nil limiter refused")
		}
	}
}

// TestMemoryIsBounded: idle buckets are dropped once full again, and a flood
// of new keys never keeps more than MaxKeys.
func TestMemoryIsBounded(t *testing.T) {
	l, c := newAt(1)
	l.MaxKeys = 100
	for i := range 1000 {
		l.Allow(fmt.Sprint("ip-", i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d buckets kept, max 100", n)
	}
	c.add(3 * time.Second) // past a full refill (2 s)
	l.Allow("fresh")
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after idle ones refilled, want 1", n)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		want int
	}{{"zero", 0, 1}, {"sub-second", 10 * time.Millisecond, 1}, {"exact", 2 * time.Second, 2}, {"rounds up", 2100 * time.Millisecond, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfterSeconds(tc.d); got != tc.want {
				t.Errorf("= %d, want %d", got, tc.want)
			}
		})
	}
}
