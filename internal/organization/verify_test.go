package organization_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/miekg/dns"
)

// dnsServer is a real DNS server on loopback whose answers tests script.
type dnsServer struct {
	Addr string
	mu   sync.Mutex
	txt  map[string][]string // name → TXT strings
	code map[string]int      // name → rcode to answer instead
	drop map[string]bool     // name → never answer (timeout)
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{Addr: pc.LocalAddr().String(), txt: map[string][]string{}, code: map[string]int{}, drop: map[string]bool{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		name := strings.TrimSuffix(strings.ToLower(r.Question[0].Name), ".")
		d.mu.Lock()
		txt, code, drop := d.txt[name], d.code[name], d.drop[name]
		d.mu.Unlock()
		if drop {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Rcode = code
		for _, s := range txt {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{s}})
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

func (d *dnsServer) set(fn func()) { d.mu.Lock(); fn(); d.mu.Unlock() }

type domainJSON struct {
	ID                string `json:"id"`
	OrganizationID    string `json:"organization_id"`
	Domain            string `json:"domain"`
	State             string `json:"state"`
	VerificationToken string `json:"verification_token"`
	VerificationError *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"verification_error"`
}

func decode[T any](t *testing.T, res *http.Response, wantStatus int) T {
	t.Helper()
	defer res.Body.Close()
	var v T
	if res.StatusCode != wantStatus {
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		t.Fatalf("%s %s: status %d, want %d: %v", res.Request.Method, res.Request.URL.Path, res.StatusCode, wantStatus, body)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func body(format string, args ...any) *strings.Reader {
	return strings.NewReader(fmt.Sprintf(format, args...))
}

// TestDomainVerificationOverDNS verifies domains against a real DNS server
// on loopback: each DNS outcome is reported as itself, never as a 500.
func TestDomainVerificationOverDNS(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			d := startDNS(t)
			s := apptest.Start(t, b.Name, func(c *config.Config) {
				c.DNSResolver = d.Addr
				c.DNSTimeout = 300 * time.Millisecond
			})
			org := decode[struct{ ID string }](t, s.Do(t, "POST", "/organizations", body(`{"name":"Acme"}`)), 201)

			cases := []struct {
				name      string
				domain    string
				setup     func(token string)
				wantState string
				wantCode  string
			}{
				{"record present", "ok.example", func(tok string) { d.txt["ok.example"] = []string{"v=spf1 -all", "verification_token=" + tok} }, "verified", ""},
				{"record absent", "absent.example", func(string) { d.txt["absent.example"] = []string{"v=spf1 -all"} }, "pending", "record_not_found"},
				{"wrong token", "wrong.example", func(string) { d.txt["wrong.example"] = []string{"verification_token=not-the-token"} }, "pending", "token_mismatch"},
				{"nxdomain", "gone.example", func(string) { d.code["gone.example"] = dns.RcodeNameError }, "pending", "nxdomain"},
				{"servfail", "broken.example", func(string) { d.code["broken.example"] = dns.RcodeServerFailure }, "pending", "dns_servfail"},
				{"resolver timeout", "slow.example", func(string) { d.drop["slow.example"] = true }, "pending", "dns_timeout"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					dom := decode[domainJSON](t, s.Do(t, "POST", "/organization_domains", body(`{"organization_id":%q,"domain":%q}`, org.ID, tc.domain)), 201)
					if dom.State != "pending" || dom.VerificationToken == "" {
						t.Fatalf("new domain = %+v", dom)
					}
					d.set(func() { tc.setup(dom.VerificationToken) })
					got := decode[domainJSON](t, s.Do(t, "POST", "/organization_domains/"+dom.ID+"/verify", nil), 201)
					if got.State != tc.wantState {
						t.Errorf("state = %q, want %q", got.State, tc.wantState)
					}
					gotCode := ""
					if got.VerificationError != nil {
						gotCode = got.VerificationError.Code
						if got.VerificationError.Message == "" {
							t.Error("a failed check must say why")
						}
					}
					if gotCode != tc.wantCode {
						t.Errorf("verification_error.code = %q, want %q", gotCode, tc.wantCode)
					}
				})
			}

			// Verifying again is refused; the event was written once.
			var okID string
			orgNow := decode[struct{ Domains []domainJSON }](t, s.Do(t, "GET", "/organizations/"+org.ID, nil), 200)
			for _, dm := range orgNow.Domains {
				if dm.Domain == "ok.example" {
					okID = dm.ID
				}
			}
			res := s.Do(t, "POST", "/organization_domains/"+okID+"/verify", nil)
			e := decode[struct{ Code string }](t, res, 400)
			if e.Code != "domain_already_verified" {
				t.Errorf("re-verify code = %q", e.Code)
			}
			evs := decode[struct{ Data []struct{ Event string } }](t, s.Do(t, "GET", "/events?events=organization_domain.verified", nil), 200)
			if len(evs.Data) != 1 {
				t.Errorf("organization_domain.verified events = %d, want 1", len(evs.Data))
			}

			// Another organization cannot claim a verified domain.
			other := decode[struct{ ID string }](t, s.Do(t, "POST", "/organizations", body(`{"name":"Other"}`)), 201)
			e = decode[struct{ Code string }](t, s.Do(t, "POST", "/organization_domains", body(`{"organization_id":%q,"domain":"OK.example."}`, other.ID)), 409)
			if e.Code != "domain_already_exists" {
				t.Errorf("claim of verified domain: code = %q", e.Code)
			}
			e = decode[struct{ Code string }](t, s.Do(t, "PUT", "/organizations/"+other.ID, body(`{"domain_data":[{"domain":"ok.example","state":"verified"}]}`)), 409)
			if e.Code != "domain_already_exists" {
				t.Errorf("claim via domain_data: code = %q", e.Code)
			}
		})
	}
}

// TestDomainInputRejected checks that bad domains get a specific 422.
func TestDomainInputRejected(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := decode[struct{ ID string }](t, s.Do(t, "POST", "/organizations", body(`{"name":"Acme"}`)), 201)
	cases := []struct {
		name, domain, code string
	}{
		{"consumer mail domain", "gmail.com", "consumer_domain"},
		{"consumer domain in capitals", "Outlook.COM", "consumer_domain"},
		{"url", "https://acme.example/login", "invalid_domain"},
		{"email address", "it@acme.example", "invalid_domain"},
		{"single label", "localhost", "invalid_domain"},
		{"ip address", "192.0.2.1", "invalid_domain"},
		{"wildcard", "*.acme.example", "invalid_domain"},
		{"bad characters", "ac_me!.example", "invalid_domain"},
		{"empty", "  ", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := decode[struct {
				Message string
				Errors  []struct{ Field, Code string }
			}](t, s.Do(t, "POST", "/organization_domains", body(`{"organization_id":%q,"domain":%q}`, org.ID, tc.domain)), 422)
			if len(e.Errors) != 1 || e.Errors[0].Field != "domain" || e.Errors[0].Code != tc.code {
				t.Errorf("errors = %+v, want domain/%s (message %q)", e.Errors, tc.code, e.Message)
			}
		})
	}
	t.Run("unknown organization", func(t *testing.T) {
		decode[struct{ Code string }](t, s.Do(t, "POST", "/organization_domains", body(`{"organization_id":"org_01J00000000000000000000000","domain":"acme.example"}`)), 404)
	})
	t.Run("internationalised name is stored as punycode", func(t *testing.T) {
		dom := decode[domainJSON](t, s.Do(t, "POST", "/organization_domains", body(`{"organization_id":%q,"domain":"bücher.example"}`, org.ID)), 201)
		if dom.Domain != "xn--bcher-kva.example" {
			t.Errorf("domain = %q", dom.Domain)
		}
	})
}

// TestLegacySDKUpdateBody sends the body workos-go v4 marshals for an
// update (capitalised keys, empty strings and nulls for unset fields): only
// the name may change.
func TestLegacySDKUpdateBody(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := decode[struct{ ID string }](t, s.Do(t, "POST", "/organizations",
		body(`{"name":"Old","external_id":"ext-9","metadata":{"a":"b"},"domain_data":[{"domain":"legacy.example","state":"verified"}]}`)), 201)
	got := decode[struct {
		Name       string
		ExternalID *string `json:"external_id"`
		Metadata   map[string]string
		Domains    []domainJSON
	}](t, s.Do(t, "PUT", "/organizations/"+org.ID, body(`{"Organization":%q,"Name":"New","AllowProfilesOutsideOrganization":false,"Domains":null,"domain_data":null,"external_id":"","metadata":null}`, org.ID)), 200)
	if got.Name != "New" || got.ExternalID == nil || *got.ExternalID != "ext-9" || got.Metadata["a"] != "b" || len(got.Domains) != 1 || got.Domains[0].State != "verified" {
		t.Errorf("legacy update = %+v", got)
	}
}
