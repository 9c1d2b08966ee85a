package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cputime"
	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/webhook"
)

// benchNode is a store, a running delivery engine with the webhook kind,
// and endpoints whose receiver counts deliveries and their latency.
type benchNode struct {
	st    store.Store
	svc   *webhook.Service
	we    []string
	count atomic.Int64
	mu    sync.Mutex
	lat   []time.Duration
	done  chan struct{}
	want  int64
}

// startBench starts a node with one endpoint that expects want deliveries.
func startBench(b *testing.B, open func(testing.TB) store.Store, want int) *benchNode {
	return startBenchEndpoints(b, open, 1, want)
}

// startBenchEndpoints starts a node with endpoints endpoints, all on one
// receiver that expects want deliveries in all.
func startBenchEndpoints(b *testing.B, open func(testing.TB) store.Store, endpoints, want int) *benchNode {
	b.Helper()
	raw := open(b)
	n := &benchNode{done: make(chan struct{}), want: int64(want)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		json.Unmarshal(body, &p)
		if t, err := time.Parse(time.RFC3339Nano, p.CreatedAt); err == nil {
			n.mu.Lock()
			n.lat = append(n.lat, time.Since(t))
			n.mu.Unlock()
		}
		if n.count.Add(1) == n.want {
			close(n.done)
		}
	}))
	b.Cleanup(hook.Close)
	sealer, _ := secrets.NewSealer(make([]byte, 32))
	eng := delivery.New(raw, delivery.Config{Log: benchLog})
	n.st = delivery.NotifyOnAppend(raw, eng.Nudge)
	guard := netguard.Guard{AllowPrivate: true}
	svc := &webhook.Service{Store: n.st, Sealer: sealer, Guard: guard, HTTP: webhook.NewHTTPClient(guard, 10*time.Second)}
	eng.Register(svc.Kind())
	n.svc = svc
	for i := range endpoints {
		// One URL per endpoint (they must differ), all on the one receiver.
		we, err := svc.Create(context.Background(), webhook.CreateInput{EndpointURL: fmt.Sprintf("%s/%d", hook.URL, i), Events: []string{"bench.event"}})
		if err != nil {
			b.Fatal(err)
		}
		n.we = append(n.we, we.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	b.Cleanup(func() { cancel(); <-stopped })
	go func() { eng.Run(ctx); close(stopped) }()
	return n
}

func (n *benchNode) setStatus(b *testing.B, status string) {
	for _, we := range n.we {
		if _, err := n.svc.Update(context.Background(), we, webhook.UpdateInput{Status: &status}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhookThroughput: b.N events already in the outbox, delivered
// to one webhook endpoint (an httptest server in the same process) — the
// engine's drain rate, one signed POST per event, cursor advanced per
// batch of 50, attempts logged per batch.
func BenchmarkWebhookThroughput(b *testing.B) {
	benchDrain(b, 1)
}

// BenchmarkWebhookThroughputEndpoints is the same drain to 8 endpoints,
// each receiving every event: one endpoint's events go one at a time, in
// order, so a node's throughput comes from endpoints draining side by
// side. Its rates count deliveries (events × endpoints).
func BenchmarkWebhookThroughputEndpoints(b *testing.B) {
	benchDrain(b, 8)
}

func benchDrain(b *testing.B, endpoints int) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			n := startBenchEndpoints(b, be.Open, endpoints, b.N*endpoints)
			// Fill the outbox while the endpoints are disabled, then enable them.
			n.setStatus(b, webhook.StatusDisabled)
			for i := 0; i < b.N; i += 500 {
				err := n.st.InTx(context.Background(), func(q store.Queries) error {
					for j := i; j < min(i+500, b.N); j++ {
						if err := events.Append(context.Background(), q, "bench.event", "org_bench", map[string]int{"i": j}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cputime.Process()
			n.setStatus(b, webhook.StatusEnabled)
			<-n.done
			elapsed, cpu := time.Since(start), cputime.Process()-cpu0
			b.StopTimer()
			deliveries := float64(b.N * endpoints)
			b.ReportMetric(deliveries/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/deliveries, "cpu-µs/event")
		})
	}
}

// BenchmarkWebhookLatency appends b.N events at a steady 1,000 per second,
// each in its own transaction (as services do), and reports the time from
// an event's creation to its arrival at the endpoint.
func BenchmarkWebhookLatency(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			n := startBench(b, be.Open, b.N)
			b.ResetTimer()
			start, cpu0 := time.Now(), cputime.Process()
			// A pacer hands out event i at start+i ms; several appenders
			// (as several requests would) write them, so the rate holds at
			// 1,000/s even where one append transaction takes longer than 1 ms.
			work := make(chan int, 64)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for i := range work {
						err := n.st.InTx(context.Background(), func(q store.Queries) error {
							return events.Append(context.Background(), q, "bench.event", "org_bench", map[string]int{"i": i})
						})
						if err != nil {
							b.Error(err)
						}
					}
				})
			}
			for i := range b.N {
				if d := time.Until(start.Add(time.Duration(i) * time.Millisecond)); d > 0 {
					time.Sleep(d)
				}
				work <- i
			}
			close(work)
			wg.Wait()
			appended := time.Since(start)
			<-n.done
			cpu := cputime.Process() - cpu0
			b.StopTimer()
			n.mu.Lock()
			slices.Sort(n.lat)
			p50, p99 := n.lat[len(n.lat)/2], n.lat[len(n.lat)*99/100]
			n.mu.Unlock()
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
			b.ReportMetric(float64(b.N)/appended.Seconds(), "appended/s")
		})
	}
}

var benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
