package job_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/job"
	"github.com/prometheus/client_golang/prometheus"
)

func TestLoopRefusesBadJobs(t *testing.T) {
	r := job.NewRunner(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	run := func(context.Context) error { return nil }
	cases := []struct {
		name string
		j    job.Job
		want string
	}{
		{"zero interval", job.Job{Name: "a", Every: 0, Run: run}, "interval must be positive"},
		{"negative interval", job.Job{Name: "a", Every: -time.Second, Run: run}, "interval must be positive"},
		{"no name", job.Job{Every: time.Second, Run: run}, "needs a name"},
		{"no run", job.Job{Name: "a", Every: time.Second}, "needs a name and a Run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Loop(tc.j); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestLoopRunsCountsAndStops runs a job that fails every other time, woken
// through its Wake channel, and checks the counters, the log and the stop.
func TestLoopRunsCountsAndStops(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	r := job.NewRunner(slog.New(slog.NewTextHandler(&logs, nil)), reg)
	ran := make(chan int)
	wake := make(chan struct{})
	finals := make(chan struct{}, 1)
	n := 0
	loop, err := r.Loop(job.Job{Name: "flaky", Every: time.Hour, Wake: wake,
		Run: func(ctx context.Context) error {
			n++
			ran <- n
			if n == 5 {
				// The last run is still going when the loop stops: its
				// error is the shutdown, not a failure.
				<-ctx.Done()
				return ctx.Err()
			}
			if n%2 == 0 {
				return errors.New("boom")
			}
			return nil
		},
		Final: func(context.Context) { finals <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop(ctx); close(done) }()
	<-ran // the first run is at start, not after an hour
	for range 4 {
		wake <- struct{}{}
		<-ran
	}
	// Runs are sequential: runs 1–4 are recorded once the 5th has begun.
	if got := counter(t, reg, "gatehouse_job_runs_total"); got != 4 {
		t.Errorf("runs = %v, want 4", got)
	}
	cancel()
	<-done
	<-finals
	if got := counter(t, reg, "gatehouse_job_runs_total"); got != 5 {
		t.Errorf("runs = %v, want 5", got)
	}
	if got := counter(t, reg, "gatehouse_job_failures_total"); got != 2 {
		t.Errorf("failures = %v, want 2", got)
	}
	if c := strings.Count(logs.String(), "background job failed"); c != 2 || !strings.Contains(logs.String(), "job=flaky") {
		t.Errorf("log: %s", logs.String())
	}
}

// counter reads the single series of a counter family in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
