package organization

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TXTLookup is the outcome of asking DNS for a name's TXT records.
type TXTLookup struct {
	Records []string
	// Code is "" on an answer (even an empty one), else one of
	// CheckNXDomain, CheckTimeout, CheckServFail, CheckDNSError.
	Code    string
	Message string
}

// Resolver looks up TXT records. Tests and split-horizon set-ups point it
// at a chosen server (GATEHOUSE_DNS_RESOLVER).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) TXTLookup
}

// DNSResolver asks DNS servers directly (with github.com/miekg/dns) rather
// than through the system's stub, because domain verification must tell
// NXDOMAIN, SERVFAIL and timeouts apart to give the admin the right fix.
type DNSResolver struct {
	Servers []string // host:port; tried in order
	Timeout time.Duration
}

// NewDNSResolver returns a resolver for server ("host:port"), or for the
// servers in /etc/resolv.conf when server is empty. Each server gets timeout
// to answer.
func NewDNSResolver(server string, timeout time.Duration) (*DNSResolver, error) {
	r := &DNSResolver{Timeout: timeout}
	if server != "" {
		if _, _, err := net.SplitHostPort(server); err != nil {
			server = net.JoinHostPort(server, "53")
		}
		r.Servers = []string{server}
		return r, nil
	}
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			r.Servers = []string{"127.0.0.1:53"}
			return r, nil
		}
		return nil, fmt.Errorf("read /etc/resolv.conf: %w", err)
	}
	for _, s := range cfg.Servers {
		r.Servers = append(r.Servers, net.JoinHostPort(s, cfg.Port))
	}
	return r, nil
}

// LookupTXT implements Resolver.
func (r *DNSResolver) LookupTXT(ctx context.Context, name string) TXTLookup {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	m.RecursionDesired = true
	m.SetEdns0(4096, false)
	last := TXTLookup{Code: CheckDNSError, Message: "No DNS server is configured."}
	for _, server := range r.Servers {
		res := r.ask(ctx, m, server)
		if res.Code == "" || res.Code == CheckNXDomain {
			return res
		}
		last = res
	}
	return last
}

func (r *DNSResolver) ask(ctx context.Context, m *dns.Msg, server string) TXTLookup {
	c := &dns.Client{Timeout: r.Timeout}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return TXTLookup{Code: CheckTimeout, Message: fmt.Sprintf("The DNS server %s did not answer in time.", server)}
		}
		return TXTLookup{Code: CheckDNSError, Message: fmt.Sprintf("The DNS server %s could not be asked: %v.", server, err)}
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return TXTLookup{Code: CheckNXDomain, Message: "The domain does not exist in DNS (NXDOMAIN)."}
	case dns.RcodeServerFailure:
		return TXTLookup{Code: CheckServFail, Message: "The domain's DNS servers failed to answer (SERVFAIL); its DNS may be misconfigured or DNSSEC may be broken."}
	default:
		return TXTLookup{Code: CheckDNSError, Message: fmt.Sprintf("The DNS server answered %s.", dns.RcodeToString[in.Rcode])}
	}
	var recs []string
	for _, rr := range in.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			// A long TXT record arrives as several strings meant to be joined.
			recs = append(recs, strings.Join(txt.Txt, ""))
		}
	}
	return TXTLookup{Records: recs}
}
