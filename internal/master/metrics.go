package master

import (
	"context"
	"maps"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/taskstate"
)

// counters are the master's cumulative counts, owned by the loop.
type counters struct {
	terminal            map[mesos.TaskState]int64 // tasks that reached each terminal state
	agentRegistrations  int64
	agentReregistration int64
	offersSent          int64
	offersDeclined      int64
	offersRescinded     int64
	operations          int64 // conversions applied (RESERVE, UNRESERVE, CREATE, DESTROY)
	operationErrors     int64 // offer operations dropped as invalid
}

// countTerminal records a task reaching a terminal state.
func (c *counters) countTerminal(s mesos.TaskState) {
	if c.terminal == nil {
		c.terminal = map[mesos.TaskState]int64{}
	}
	c.terminal[s]++
}

// metricsInput is what the metrics are computed from: taken on the loop
// (lists the loop keeps, never changed, and counters), summed off it.
type metricsInput struct {
	elected           bool
	start             time.Time
	agents            []agentMetrics
	frameworks        []frameworkMetrics
	counts            counters
	outstandingOffers int
	invalidCalls      int64
}

type agentMetrics struct {
	total, used []*mesos.Resource
	connected   bool
}

type frameworkMetrics struct {
	active, connected bool
	tasks             []*mesos.Task
}

// metricsInput takes what the metrics need. Runs on the loop.
func (m *Master) metricsInput() *metricsInput {
	in := &metricsInput{elected: m.leading.Load(), start: m.start, counts: m.counts, outstandingOffers: len(m.offers),
		invalidCalls: m.invalidCalls.Load(), agents: make([]agentMetrics, 0, len(m.agents)), frameworks: make([]frameworkMetrics, 0, len(m.frameworks))}
	in.counts.terminal = maps.Clone(m.counts.terminal)
	for _, a := range m.agents {
		in.agents = append(in.agents, agentMetrics{total: a.total, used: a.used, connected: a.link != nil})
	}
	for _, fw := range m.frameworks {
		in.frameworks = append(in.frameworks, frameworkMetrics{active: fw.active, connected: fw.stream != nil, tasks: fw.tasksList()})
	}
	return in
}

// metrics computes Mesos's master metrics (docs/monitoring.md) by their
// Mesos names: the loop takes their input, the sums are made off it.
func (m *Master) metrics(ctx context.Context) (map[string]float64, error) {
	var in *metricsInput
	if err := m.do(ctx, func() { in = m.metricsInput() }); err != nil {
		return nil, err
	}
	return in.metrics(), nil
}

func (in *metricsInput) metrics() map[string]float64 {
	out := map[string]float64{
		"master/elected":     boolMetric(in.elected),
		"master/uptime_secs": time.Since(in.start).Seconds(),
	}
	total, used := map[string]float64{}, map[string]float64{}
	var active, inactive float64
	for _, a := range in.agents {
		addScalars(total, a.total)
		addScalars(used, a.used)
		if a.connected {
			active++
		} else {
			inactive++
		}
	}
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		t, u := roundMilli(total[name]), roundMilli(used[name])
		out["master/"+name+"_total"] = t
		out["master/"+name+"_used"] = u
		out["master/"+name+"_percent"] = 0
		if t > 0 {
			out["master/"+name+"_percent"] = u / t
		}
	}
	out["master/slaves_active"] = active
	out["master/slaves_inactive"] = inactive
	out["master/slaves_connected"] = active
	out["master/slaves_disconnected"] = inactive
	out["master/slave_registrations"] = float64(in.counts.agentRegistrations)
	out["master/slave_reregistrations"] = float64(in.counts.agentReregistration)
	var fwActive, fwInactive, fwConnected, fwDisconnected float64
	states := map[mesos.TaskState]float64{}
	for _, fw := range in.frameworks {
		if fw.active {
			fwActive++
		} else {
			fwInactive++
		}
		if fw.connected {
			fwConnected++
		} else {
			fwDisconnected++
		}
		for _, t := range fw.tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				states[t.GetState()]++
			}
		}
	}
	out["master/frameworks_active"] = fwActive
	out["master/frameworks_inactive"] = fwInactive
	out["master/frameworks_connected"] = fwConnected
	out["master/frameworks_disconnected"] = fwDisconnected
	for _, s := range []mesos.TaskState{mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING,
		mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_UNREACHABLE} {
		out["master/tasks_"+strings.ToLower(strings.TrimPrefix(s.String(), "TASK_"))] = states[s]
	}
	for _, s := range []mesos.TaskState{mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED,
		mesos.TaskState_TASK_KILLED, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR,
		mesos.TaskState_TASK_DROPPED, mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR} {
		out["master/tasks_"+strings.ToLower(strings.TrimPrefix(s.String(), "TASK_"))] = float64(in.counts.terminal[s])
	}
	out["master/outstanding_offers"] = float64(in.outstandingOffers)
	out["master/invalid_scheduler_calls"] = float64(in.invalidCalls)
	out["master/messages_decline_offers"] = float64(in.counts.offersDeclined)
	out["master/offers_sent"] = float64(in.counts.offersSent)
	out["master/offers_rescinded"] = float64(in.counts.offersRescinded)
	out["master/operations/total"] = float64(in.counts.operations)
	out["master/operations/error"] = float64(in.counts.operationErrors)
	return out
}

// serveMetricsSnapshot is /metrics/snapshot: a flat JSON object of
// Mesos metric names.
func (m *Master) serveMetricsSnapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := m.metrics(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, snap)
}

// promMetrics exposes the master's figures to Prometheus: the Mesos
// metrics (master/cpus_total becomes plateau_master_cpus_total) and
// latency histograms of API calls and allocation cycles.
type promMetrics struct {
	registry   *prometheus.Registry
	calls      *prometheus.HistogramVec
	allocation prometheus.Histogram
}

func newPromMetrics(m *Master) *promMetrics {
	p := &promMetrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "plateau_master_api_call_duration_seconds", Help: "Time to answer scheduler and operator API calls, by API and call type.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"api", "call"}),
		allocation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "plateau_master_allocation_cycle_duration_seconds", Help: "Time of allocation cycles, including making the offers.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}),
	}
	p.registry.MustRegister(p.calls, p.allocation, &mesosCollector{m: m},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return p
}

func (p *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{})
}

// mesosCollector turns the Mesos metrics into Prometheus gauges when
// scraped.
type mesosCollector struct{ m *Master }

func (c *mesosCollector) Describe(ch chan<- *prometheus.Desc) {
	// Unchecked collector: the metric set is computed at scrape time.
}

func (c *mesosCollector) Collect(ch chan<- prometheus.Metric) {
	snap, err := c.m.metrics(context.Background())
	if err != nil {
		return
	}
	names := make([]string, 0, len(snap))
	for n := range snap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		name := "plateau_" + strings.ReplaceAll(n, "/", "_")
		desc := prometheus.NewDesc(name, "Mesos metric "+n+".", nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, snap[n])
	}
}

// addScalars adds the scalar resources of rs to sums by name, without the
// bookkeeping of resources.Resources.
func addScalars(sums map[string]float64, rs []*mesos.Resource) {
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			sums[r.GetName()] += r.GetScalar().GetValue()
		}
	}
}

func roundMilli(v float64) float64 { return math.Round(v*1000) / 1000 }

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
