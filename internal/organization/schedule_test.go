package organization_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/miekg/dns"
)

// clock is a settable time source shared by the services of one test.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newService(st store.Store, dnsAddr string, c *clock) *organization.Service {
	r, _ := organization.NewDNSResolver(dnsAddr, 300*time.Millisecond)
	return &organization.Service{Store: st, Resolver: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now}
}

// TestBackgroundChecks covers the scheduler: a pending domain is verified
// once its record appears, and one that stays unverified fails after 30 days
// with the WorkOS reason.
func TestBackgroundChecks(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			d := startDNS(t)
			st := b.Open(t)
			c := &clock{}
			c.Set(time.Now())
			svc := newService(st, d.Addr, c)
			org, err := svc.Create(ctx, organization.Input{Name: organization.Optional[string]{Set: true, Value: "Acme"}})
			if err != nil {
				t.Fatal(err)
			}
			late, err := svc.CreateDomain(ctx, org.ID, "late.example")
			if err != nil {
				t.Fatal(err)
			}
			never, err := svc.CreateDomain(ctx, org.ID, "never.example")
			if err != nil {
				t.Fatal(err)
			}
			if n, err := svc.RunDueChecks(ctx); err != nil || n != 0 {
				t.Fatalf("checks before first due time = %d, %v; want 0", n, err)
			}
			c.Advance(2 * time.Minute)
			if n, err := svc.RunDueChecks(ctx); err != nil || n != 2 {
				t.Fatalf("first checks = %d, %v; want 2", n, err)
			}
			d.set(func() { d.txt["late.example"] = []string{"verification_token=" + late.VerificationToken} })
			c.Advance(time.Hour)
			if _, err := svc.RunDueChecks(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := svc.GetDomain(ctx, late.ID); got.State != store.DomainVerified {
				t.Errorf("late.example state = %q, want verified", got.State)
			}
			c.Advance(organization.VerificationPeriod)
			if _, err := svc.RunDueChecks(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ := svc.GetDomain(ctx, never.ID)
			if got.State != store.DomainFailed {
				t.Errorf("never.example state = %q, want failed", got.State)
			}
			evs, err := st.ListEvents(ctx, store.EventFilter{Names: []string{organization.EventDomainFailed}}, 10, false)
			if err != nil || len(evs) != 1 {
				t.Fatalf("verification_failed events = %d, %v", len(evs), err)
			}
			var data struct {
				Reason string `json:"reason"`
			}
			json.Unmarshal(evs[0].Data, &data)
			if data.Reason != "domain_verification_period_expired" {
				t.Errorf("reason = %q", data.Reason)
			}
		})
	}
}

// TestChecksRunOnceAcrossNodes runs the scheduler of several nodes on one
// database at once: each due domain is looked up exactly once.
func TestChecksRunOnceAcrossNodes(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			asked := map[string]int{}
			srv := startCountingDNS(t, func(name string) { mu.Lock(); asked[name]++; mu.Unlock() })
			st := b.Open(t)
			c := &clock{}
			c.Set(time.Now())
			seed := newService(st, srv, c)
			org, err := seed.Create(ctx, organization.Input{Name: organization.Optional[string]{Set: true, Value: "Acme"}})
			if err != nil {
				t.Fatal(err)
			}
			const domains = 20
			for i := range domains {
				if _, err := seed.CreateDomain(ctx, org.ID, string(rune('a'+i))+"-node.example"); err != nil {
					t.Fatal(err)
				}
			}
			c.Advance(2 * time.Minute)
			var wg sync.WaitGroup
			var total atomic.Int64
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := newService(st, srv, c).RunDueChecks(ctx)
					if err != nil {
						t.Error(err)
					}
					total.Add(int64(n))
				}()
			}
			wg.Wait()
			if total.Load() != domains {
				t.Errorf("claimed %d checks in all, want %d", total.Load(), domains)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != domains {
				t.Errorf("DNS asked about %d names, want %d", len(asked), domains)
			}
			for name, n := range asked {
				if n != 1 {
					t.Errorf("%s looked up %d times", name, n)
				}
			}
		})
	}
}

// startCountingDNS runs a DNS server that answers every TXT query with no
// records and reports each name asked.
func startCountingDNS(t *testing.T, seen func(name string)) string {
	t.Helper()
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp"}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		seen(r.Question[0].Name)
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})
	go srv.ListenAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return srv.PacketConn.LocalAddr().String()
}
