package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// TestJobsInMetrics: every background job and the delivery engine report
// to /metrics from the start.
func TestJobsInMetrics(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, job := range []string{"domain_checks", "idempotency_sweep", "scim_log_flush", "scim_log_prune",
		"google_directory_sync", "sso_sweep", "saml_metadata_refresh", "saml_certificate_notices", "webhook_deliveries_prune"} {
		if !strings.Contains(string(body), `gatehouse_job_runs_total{job="`+job+`"}`) {
			t.Errorf("no run counter for job %s", job)
		}
	}
}

// TestJobIntervalValidated: a zero or negative interval refuses to start
// (an error, not a panic or a busy loop).
func TestJobIntervalValidated(t *testing.T) {
	for _, d := range []string{"0s", "-1m"} {
		cfg, err := config.Defaults(func(c *config.Config) { c.DataDir = t.TempDir() })
		if err != nil {
			t.Fatal(err)
		}
		cfg.DomainCheckInterval, _ = time.ParseDuration(d)
		a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			a.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "interval must be positive") {
			t.Errorf("%s: %v", d, err)
		}
	}
}
