// Package job runs Gatehouse's periodic background work (domain re-checks,
// metadata refreshes, directory pulls, log flushes, sweeps) in one way:
// a validated interval, a log line for each failed run, and run counts,
// failures and durations per job in /metrics.
package job

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Job is one periodic task.
type Job struct {
	Name  string        // short and stable, e.g. "domain_checks"; a metrics label
	Every time.Duration // time between the end of one run and the next; must be > 0
	// Run does one round of work. It runs once at start, then every Every.
	Run func(ctx context.Context) error
	// Wake, if set, starts a run early whenever it receives.
	Wake <-chan struct{}
	// Final, if set, runs once after ctx ends, with a context that is not
	// cancelled (for example to flush a buffer).
	Final func(ctx context.Context)
}

// Runner runs jobs and counts their runs.
type Runner struct {
	log      *slog.Logger
	runs     *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRunner returns a Runner logging to log and registering its metrics
// with reg (nil = not exported).
func NewRunner(log *slog.Logger, reg prometheus.Registerer) *Runner {
	r := &Runner{
		log: log,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_job_runs_total",
			Help: "Runs of each background job."}, []string{"job"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_job_failures_total",
			Help: "Runs of each background job that returned an error."}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_job_duration_seconds",
			Help: "Duration of each background job's runs.", Buckets: prometheus.DefBuckets}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(r.runs, r.failures, r.duration)
	}
	return r
}

// Loop checks j and returns the function that runs it until its context
// ends; a bad interval is an error here, before anything starts.
func (r *Runner) Loop(j Job) (func(ctx context.Context), error) {
	if j.Name == "" || j.Run == nil {
		return nil, fmt.Errorf("job: a job needs a name and a Run function")
	}
	if j.Every <= 0 {
		return nil, fmt.Errorf("job %s: interval must be positive, got %v", j.Name, j.Every)
	}
	// Create the series now so that /metrics lists every job from the start.
	r.runs.WithLabelValues(j.Name)
	r.failures.WithLabelValues(j.Name)
	return func(ctx context.Context) { r.loop(ctx, j) }, nil
}

func (r *Runner) loop(ctx context.Context, j Job) {
	if j.Final != nil {
		defer j.Final(context.WithoutCancel(ctx))
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.Wake:
			t.Stop()
		}
		r.once(ctx, j)
		t.Reset(j.Every)
	}
}

// once runs j one time and records the outcome. An error while ctx is
// ending is the shutdown, not a failure.
func (r *Runner) once(ctx context.Context, j Job) {
	start := time.Now()
	err := j.Run(ctx)
	r.duration.WithLabelValues(j.Name).Observe(time.Since(start).Seconds())
	r.runs.WithLabelValues(j.Name).Inc()
	if err != nil && ctx.Err() == nil {
		r.failures.WithLabelValues(j.Name).Inc()
		r.log.ErrorContext(ctx, "background job failed", "job", j.Name, "err", err)
	}
}
