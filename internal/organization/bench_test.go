package organization_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// BenchmarkOrganizationsAPI measures create, get and list through the whole
// HTTP stack (auth, JSON, store, outbox) on each backend. Results are in
// docs/benchmarks.md.
func BenchmarkOrganizationsAPI(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := apptest.Start(b, be.Name)
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			client := &http.Client{Transport: tr}
			do := func(method, path, body string) (int, []byte) {
				var r io.Reader
				if body != "" {
					r = strings.NewReader(body)
				}
				req, _ := http.NewRequest(method, s.URL+path, r)
				req.Header.Set("Authorization", "Bearer "+apptest.APIKey)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer res.Body.Close()
				out, _ := io.ReadAll(res.Body)
				return res.StatusCode, out
			}
			// Seed 1,000 organizations so get and list read a real table.
			var ids []string
			for i := range 1000 {
				st, out := do("POST", "/organizations", fmt.Sprintf(`{"name":"Seed %d","domain_data":[{"domain":"seed%d.example","state":"pending"}]}`, i, i))
				if st != 201 {
					b.Fatalf("seed: %d %s", st, out)
				}
				ids = append(ids, string(out[strings.Index(string(out), `"id":"`)+6:][:30]))
			}
			var n atomic.Int64
			b.Run("create", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if st, out := do("POST", "/organizations", fmt.Sprintf(`{"name":"Bench %d","domain_data":[{"domain":"b%d.example","state":"pending"}]}`, i, i)); st != 201 {
							b.Fatalf("create: %d %s", st, out)
						}
					}
				})
			})
			b.Run("get", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if st, _ := do("GET", "/organizations/"+ids[i%int64(len(ids))], ""); st != 200 {
							b.Fatalf("get: %d", st)
						}
					}
				})
			})
			b.Run("list", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if st, _ := do("GET", "/organizations?limit=100", ""); st != 200 {
							b.Fatalf("list: %d", st)
						}
					}
				})
			})
		})
	}
}
