// Package app is the one place that reads the configuration and wires the
// store, the services, the background workers and the HTTP server together.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/apikey"
	"github.com/gatehouse-dev/gatehouse/internal/auditlog"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/directory/google"
	"github.com/gatehouse-dev/gatehouse/internal/directory/scim"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/groupcommit"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/job"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	ssooidc "github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// App is a wired Gatehouse node.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Store    store.Store
	Sealer   *secrets.Sealer
	ClientID string

	Orgs *organization.Service
	// Directories is Directory Sync; SCIMLog buffers its SCIM request log.
	Directories *directory.Service
	SCIMLog     *scim.RequestLog
	SSO         *sso.Service
	AuditLogs   *auditlog.Service
	// APIKeys manages API keys; KeyAuth checks them on every management
	// request; Limits are the node's rate limiters.
	APIKeys    *apikey.Service
	KeyAuth    *api.KeyAuth
	Limits     api.Limits
	LogStreams *logstream.Service
	// Delivery moves events to webhook endpoints and log streams.
	Delivery *delivery.Engine
	Webhooks *webhook.Service
	Portal   *portal.Service

	handler http.Handler
	routes  *api.RouteTable
	workers []func(ctx context.Context)
}

// OpenStore opens the configured database and applies migrations.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "gatehouse.db"))
}

// New opens the store and builds every service and route.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a, err := build(ctx, cfg, log, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func build(ctx context.Context, cfg config.Config, log *slog.Logger, st store.Store) (*App, error) {
	a := &App{Config: cfg, Log: log, Store: st}
	// Services write through st, which wakes the delivery engine when a
	// transaction that appended events commits.
	st = delivery.NotifyOnAppend(st, func() {
		if a.Delivery != nil {
			a.Delivery.Nudge()
		}
	})
	var keys [][]byte
	var err error
	if cfg.SecretKey != "" {
		keys, err = secrets.ParseKeys(cfg.SecretKey)
	} else {
		var key []byte
		key, err = secrets.LoadOrCreateKeyFile(cfg.DataDir)
		keys = [][]byte{key}
	}
	if err != nil {
		return nil, err
	}
	if a.Sealer, err = secrets.NewSealer(keys...); err != nil {
		return nil, err
	}
	if cfg.APIKey != "" {
		if err := RegisterAPIKey(ctx, st, cfg.APIKey, "GATEHOUSE_API_KEY"); err != nil {
			return nil, err
		}
	}
	a.ClientID = cfg.ClientID
	if a.ClientID == "" {
		if a.ClientID, err = st.GetOrCreateSetting(ctx, "client_id", id.New("client")); err != nil {
			return nil, fmt.Errorf("client id: %w", err)
		}
	}
	resolver, err := organization.NewDNSResolver(cfg.DNSResolver, cfg.DNSTimeout)
	if err != nil {
		return nil, err
	}
	a.Orgs = &organization.Service{Store: st, Resolver: resolver, Log: log}
	// Concurrent logins commit together, and so do concurrent SCIM writes,
	// each with a committer of its own (see groupcommit).
	commit, dirCommit := groupcommit.New(st), groupcommit.New(st)
	guard := netguard.Guard{AllowPrivate: cfg.AllowPrivateTargets}
	outbound := guard.Client(15 * time.Second)
	a.SSO = &sso.Service{
		Store: st, Orgs: a.Orgs, Sealer: a.Sealer, BaseURL: cfg.BaseURL, ClientID: a.ClientID,
		RedirectURIs: cfg.RedirectURIs, Guard: guard, HTTP: outbound, OIDC: &ssooidc.Client{HTTP: outbound},
		MetadataRefresh: cfg.SSOMetadataRefresh, Recheck: &sso.RecheckLimiter{}, SPKeyCache: &sso.SPKeyCache{}, Certificates: &sso.CertificateCache{}, Log: log, SAML: &ssosaml.Validator{},
		Commit: commit,
	}
	a.SSO.SAML.SetFastPath(cfg.SAMLFastPath)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	a.routes = &api.RouteTable{}
	a.Limits = newLimits(cfg.RateLimits, reg)
	a.KeyAuth = &api.KeyAuth{Keys: st, Limit: a.Limits.APIKey}
	r := api.Router{Mux: mux, Store: st, Table: a.routes, Auth: a.KeyAuth, Limits: a.Limits}
	a.APIKeys = &apikey.Service{Store: st}
	(&apikey.Handler{Svc: a.APIKeys}).Routes(r)
	(&organization.Handler{Svc: a.Orgs}).Routes(r)
	(&events.Handler{Store: st}).Routes(r)
	a.Directories = &directory.Service{Store: st, Sealer: a.Sealer, BaseURL: cfg.BaseURL, Log: log, Commit: dirCommit}
	a.Orgs.OnDelete = append(a.Orgs.OnDelete, a.SSO.DeleteForOrganization, a.Directories.DeleteForOrganization)
	a.SCIMLog = &scim.RequestLog{Store: st, Log: log}
	gsync := &google.Syncer{Svc: a.Directories, BaseURL: cfg.GoogleAPIBaseURL, Guard: guard, Log: log, Interval: cfg.DirectorySyncInterval}
	(&directory.Handler{Svc: a.Directories, Google: gsync, FlushLog: a.SCIMLog.Flush}).Routes(r)
	(&scim.Server{Svc: a.Directories, Log: a.SCIMLog, Logger: log}).Routes(r)
	(&sso.Handler{Svc: a.SSO}).Routes(r)
	a.AuditLogs = &auditlog.Service{Store: st, Sealer: a.Sealer, BaseURL: cfg.BaseURL, Log: log}
	(&auditlog.Handler{Svc: a.AuditLogs}).Routes(r)
	a.Delivery = delivery.New(a.Store, delivery.Config{Log: log, Metrics: reg, ParkAfter: cfg.DeliveryParkAfter})
	a.Webhooks = &webhook.Service{Store: st, Sealer: a.Sealer, Guard: guard, HTTP: webhook.NewHTTPClient(guard, 10*time.Second),
		Nudge: a.Delivery.Nudge}
	a.Delivery.Register(a.Webhooks.Kind())
	(&webhook.Handler{Svc: a.Webhooks}).Routes(r)
	a.LogStreams = &logstream.Service{Store: st, Sealer: a.Sealer, Guard: guard, HTTP: webhook.NewHTTPClient(guard, 30*time.Second),
		Replayer: a.Delivery, Nudge: a.Delivery.Nudge}
	a.Orgs.OnDelete = append(a.Orgs.OnDelete, a.LogStreams.DeleteForOrganization)
	a.Delivery.Register(a.LogStreams.Kind())
	a.AuditLogs.LogStream = func(ctx context.Context, orgID string) (*auditlog.LogStreamSummary, error) {
		ls, ok, err := a.LogStreams.First(ctx, orgID)
		if !ok || err != nil {
			return nil, err
		}
		j := ls.AuditLogJSON()
		return &j, nil
	}
	(&logstream.Handler{Svc: a.LogStreams}).Routes(r)
	a.Portal = &portal.Service{Store: st, Orgs: a.Orgs, BaseURL: cfg.BaseURL, Log: log}
	(&portal.Handler{Svc: a.Portal, Orgs: a.Orgs, SSO: a.SSO, Directories: a.Directories, LogStreams: a.LogStreams, Brand: cfg.Portal,
		FlushSCIMLog: a.SCIMLog.Flush, SyncNow: gsync.SyncNow,
		Secure: strings.HasPrefix(cfg.BaseURL, "https://"), Log: log}).Routes(r)

	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": err.Error()})
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": st.Dialect()})
	})
	r.Fallback()
	a.handler = api.WithClientIP(cfg.TrustedProxies, api.Observe(log, api.NewMetrics(reg), mux))

	a.workers = append(a.workers, commit.Run, dirCommit.Run, a.Delivery.Run)
	jobs := job.NewRunner(log, reg)
	for _, j := range []job.Job{
		{Name: "domain_checks", Every: cfg.DomainCheckInterval, Run: func(ctx context.Context) error {
			n, err := a.Orgs.RunDueChecks(ctx)
			if n > 0 {
				log.InfoContext(ctx, "domain checks", "checked", n)
			}
			return err
		}},
		{Name: "idempotency_sweep", Every: time.Hour, Run: func(ctx context.Context) error {
			return a.Store.DeleteIdempotencyBefore(ctx, time.Now().Add(-24*time.Hour))
		}},
		{Name: "scim_log_flush", Every: scim.FlushEvery, Wake: a.SCIMLog.Wake(), Final: a.SCIMLog.Flush,
			Run: func(ctx context.Context) error { a.SCIMLog.Flush(ctx); return nil }},
		{Name: "scim_log_prune", Every: scim.PruneEvery, Run: a.SCIMLog.Prune},
		{Name: "google_directory_sync", Every: gsync.CheckEvery(), Run: gsync.SyncDue},
		{Name: "sso_sweep", Every: time.Minute, Run: a.SSO.SweepExpired},
		{Name: "saml_metadata_refresh", Every: time.Minute, Run: a.SSO.RefreshDueMetadata},
		{Name: "saml_certificate_notices", Every: time.Minute, Run: a.SSO.NotifyExpiringCertificates},
		{Name: "saml_certificate_retire", Every: time.Minute, Run: a.SSO.RetireCertificates},
		{Name: "sp_key_rotation", Every: time.Hour, Run: a.SSO.RotateDueSPKeys},
		{Name: "audit_log_exports", Every: 5 * time.Second, Wake: a.AuditLogs.Wake(), Run: a.AuditLogs.BuildDue},
		{Name: "audit_log_retention", Every: time.Hour, Run: a.AuditLogs.Sweep},
		{Name: "portal_sweep", Every: 10 * time.Minute, Run: a.Portal.Sweep},
		{Name: "webhook_deliveries_prune", Every: time.Hour, Run: func(ctx context.Context) error {
			return a.Webhooks.PruneDeliveries(ctx, 7*24*time.Hour)
		}},
	} {
		loop, err := jobs.Loop(j)
		if err != nil {
			return nil, err
		}
		a.workers = append(a.workers, loop)
	}
	return a, nil
}

// Reseal seals every stored secret that is not yet under the first master
// key again under it (after GATEHOUSE_SECRET_KEY gained a new first key),
// reporting each feature's count. It is resumable and safe while other
// nodes run: see sso.Service.Reseal.
func (a *App) Reseal(ctx context.Context, report func(what string, n int)) error {
	for _, r := range []struct {
		what string
		fn   func(context.Context) (int, error)
	}{
		{"SSO connection secrets", a.SSO.Reseal},
		{"Google Workspace settings", a.Directories.Reseal},
	} {
		n, err := r.fn(ctx)
		if report != nil {
			report(r.what, n)
		}
		if err != nil {
			return fmt.Errorf("reseal %s: %w", r.what, err)
		}
	}
	return nil
}

// Routes lists the node's registered routes.
func (a *App) Routes() []api.Route { return a.routes.Routes() }

// Handler is the node's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// RunWorkers starts the background jobs; they stop when ctx ends, and the
// returned function waits for them.
func (a *App) RunWorkers(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, w := range a.workers {
		wg.Add(1)
		go func() { defer wg.Done(); w(ctx) }()
	}
	return wg.Wait
}

// HTTPServer returns an http.Server with the node's timeouts around h.
func (a *App) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
}

// Serve listens on ln until ctx ends, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	releaseStartupMemory()
	srv := a.HTTPServer(a.handler)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return a.Run(ctx, srv, errc)
}

// releaseStartupMemory collects the garbage of start-up (migrations, the
// wiring of every service, route tables) and returns the freed pages to the
// OS once, before the node serves. Without it they stay resident until the
// heap first doubles or the runtime's two-minute forced collection and the
// background scavenger get to them; an idle node then holds about 0.6 MB
// more (docs/benchmarks.md, Memory).
func releaseStartupMemory() { debug.FreeOSMemory() }

// Run runs the background workers beside srv, which is already serving and
// reports its end on errc, until srv fails or ctx ends; then it shuts srv
// down gracefully and waits for the workers.
func (a *App) Run(ctx context.Context, srv *http.Server, errc <-chan error) error {
	wctx, stop := context.WithCancel(ctx)
	wait := a.RunWorkers(wctx)
	defer func() {
		stop()
		wait()
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases the store.
func (a *App) Close() error { return a.Store.Close() }

// RegisterAPIKey stores the hash of a known API key (GATEHOUSE_API_KEY).
func RegisterAPIKey(ctx context.Context, st store.APIKeys, key, name string) error {
	return (&apikey.Service{Store: st}).Register(ctx, key, name)
}

// newLimits builds the rate limiters and counts what they refuse in
// gatehouse_rate_limited_total{limit}.
func newLimits(c config.RateLimits, reg prometheus.Registerer) api.Limits {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_rate_limited_total", Help: "Requests refused with 429 by a rate limit (api_key, sso, scim).",
	}, []string{"limit"})
	reg.MustRegister(rejected)
	mk := func(name string, perSecond int) *ratelimit.Limiter {
		l := ratelimit.New(perSecond)
		if l != nil {
			l.Rejected = rejected.WithLabelValues(name)
		}
		return l
	}
	return api.Limits{APIKey: mk("api_key", c.APIKey), SSO: mk("sso", c.SSO), SCIM: mk("scim", c.SCIM)}
}
