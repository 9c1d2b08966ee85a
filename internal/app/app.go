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
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/auditlog"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/directory/google"
	"github.com/gatehouse-dev/gatehouse/internal/directory/scim"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	ssooidc "github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
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
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = secrets.ParseKey(cfg.SecretKey)
	} else {
		key, err = secrets.LoadOrCreateKeyFile(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if a.Sealer, err = secrets.NewSealer(key); err != nil {
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
	guard := netguard.Guard{AllowPrivate: cfg.AllowPrivateTargets}
	outbound := guard.Client(15 * time.Second)
	a.SSO = &sso.Service{
		Store: st, Orgs: a.Orgs, Sealer: a.Sealer, BaseURL: cfg.BaseURL, ClientID: a.ClientID,
		RedirectURIs: cfg.RedirectURIs, Guard: guard, HTTP: outbound, OIDC: &ssooidc.Client{HTTP: outbound},
		MetadataRefresh: cfg.SSOMetadataRefresh, Recheck: &sso.RecheckLimiter{}, SPKeyCache: &sso.SPKeyCache{}, Log: log,
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	a.routes = &api.RouteTable{}
	r := api.Router{Mux: mux, Store: st, Table: a.routes}
	(&organization.Handler{Svc: a.Orgs}).Routes(r)
	(&events.Handler{Store: st}).Routes(r)
	a.Directories = &directory.Service{Store: st, Sealer: a.Sealer, BaseURL: cfg.BaseURL, Log: log}
	a.Orgs.OnDelete = append(a.Orgs.OnDelete, a.SSO.DeleteForOrganization, a.Directories.DeleteForOrganization)
	a.SCIMLog = &scim.RequestLog{Store: st, Log: log}
	gsync := &google.Syncer{Svc: a.Directories, BaseURL: cfg.GoogleAPIBaseURL, Log: log, Interval: cfg.DirectorySyncInterval}
	(&directory.Handler{Svc: a.Directories, Google: gsync, FlushLog: a.SCIMLog.Flush}).Routes(r)
	(&scim.Server{Svc: a.Directories, Log: a.SCIMLog, Logger: log}).Routes(r)
	(&sso.Handler{Svc: a.SSO}).Routes(r)
	a.AuditLogs = &auditlog.Service{Store: st, Sealer: a.Sealer, BaseURL: cfg.BaseURL, Log: log}
	(&auditlog.Handler{Svc: a.AuditLogs}).Routes(r)

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
	mux.Handle("/", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return &errs.Error{Kind: errs.KindNotFound, Code: "route_not_found", Message: fmt.Sprintf("No route for %s %s.", r.Method, r.URL.Path)}
	}))
	a.handler = api.Observe(log, api.NewMetrics(reg), mux)

	a.workers = append(a.workers,
		func(ctx context.Context) { a.Orgs.RunScheduler(ctx, cfg.DomainCheckInterval) },
		func(ctx context.Context) { a.sweepIdempotency(ctx) },
		a.SCIMLog.Run,
		a.Directories.RunCommitter,
		gsync.Run,
		func(ctx context.Context) { a.SSO.RunWorkers(ctx, time.Minute) },
		a.AuditLogs.Run,
	)
	return a, nil
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
	srv := a.HTTPServer(a.handler)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return a.Run(ctx, srv, errc)
}

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

// RegisterAPIKey stores the hash of a known API key (GATEHOUSE_API_KEY, or
// one made by `gatehouse keys create`).
func RegisterAPIKey(ctx context.Context, st store.APIKeys, key, name string) error {
	suffix := key
	if len(suffix) > 4 {
		suffix = suffix[len(suffix)-4:]
	}
	err := st.UpsertAPIKey(ctx, store.APIKey{ID: id.New("key"), Name: name, Hash: api.HashKey(key), Suffix: suffix, CreatedAt: time.Now()})
	if err != nil {
		return fmt.Errorf("register api key: %w", err)
	}
	return nil
}

func (a *App) sweepIdempotency(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := a.Store.DeleteIdempotencyBefore(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			a.Log.Error("sweep idempotency keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
