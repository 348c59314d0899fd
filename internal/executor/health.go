package executor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// healthResult is one health check's outcome for a task.
type healthResult struct {
	task    string
	healthy bool
	detail  string
}

// checkHealth runs a task's HealthCheck until ctx ends, as Mesos's
// checker does: after delay_seconds, every interval_seconds, each attempt
// bounded by timeout_seconds. Results go to out.
func checkHealth(ctx context.Context, task string, hc *mesos.HealthCheck, sandbox string, out chan<- healthResult) {
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	select {
	case <-time.After(seconds(hc.GetDelaySeconds())):
	case <-ctx.Done():
		return
	}
	ticker := time.NewTicker(max(seconds(hc.GetIntervalSeconds()), 10*time.Millisecond))
	defer ticker.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, max(seconds(hc.GetTimeoutSeconds()), time.Millisecond))
		err := probe(attempt, hc, sandbox)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r := healthResult{task: task, healthy: err == nil}
		if err != nil {
			r.detail = err.Error()
		}
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// probe runs one check.
func probe(ctx context.Context, hc *mesos.HealthCheck, sandbox string) error {
	switch hc.GetType() {
	case mesos.HealthCheck_COMMAND:
		cmd := commandFor(ctx, hc.GetCommand(), sandbox)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("command health check failed: %v: %s", err, truncate(out))
		}
		return nil
	case mesos.HealthCheck_HTTP:
		h := hc.GetHttp()
		scheme := h.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(h.GetPort()))), h.GetPath())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("HTTP health check failed: %w", err)
		}
		resp.Body.Close()
		// Mesos: healthy on statuses 200 to 399.
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP health check failed: %s answered %s", url, resp.Status)
		}
		return nil
	case mesos.HealthCheck_TCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(hc.GetTcp().GetPort()))))
		if err != nil {
			return fmt.Errorf("TCP health check failed: %w", err)
		}
		return conn.Close()
	}
	return fmt.Errorf("unsupported health check type %v", hc.GetType())
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
