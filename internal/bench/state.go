package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/plateau/plateau/internal/stats"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/master"
)

// StateOptions size the state benchmark.
type StateOptions struct {
	Agents, Tasks, Frameworks int
	Requests                  int // /master/state requests measured
}

// StateResult is what `plateau bench state` prints.
type StateResult struct {
	Agents int `json:"agents"`
	Tasks  int `json:"tasks"`
	// StateFirstMs is the first render, before the master has the JSON of
	// its frameworks and agents at hand; the percentiles are over the
	// others.
	StateFirstMs       float64 `json:"state_first_ms"`
	StateP50Ms         float64 `json:"state_p50_ms"`
	StateP99Ms         float64 `json:"state_p99_ms"`
	StateBytes         int     `json:"state_bytes"`
	SchedulerCalls     int     `json:"scheduler_calls_during"`
	SchedulerCallP50Ms float64 `json:"scheduler_call_p50_ms"`
	SchedulerCallP99Ms float64 `json:"scheduler_call_p99_ms"`
	SchedulerCallMaxMs float64 `json:"scheduler_call_max_ms"`
	// EndpointsP50Ms is the median of a few requests to each of the other
	// endpoints that render the whole cluster.
	EndpointsP50Ms map[string]float64 `json:"endpoints_p50_ms"`
}

// State builds a master with emulated agents and tasks and measures
// /master/state while a framework keeps making scheduler calls.
func State(ctx context.Context, o StateOptions) (StateResult, error) {
	if o.Frameworks <= 0 {
		o.Frameworks = 100
	}
	if o.Requests <= 1 {
		o.Requests = 20
	}
	res := StateResult{Agents: o.Agents, Tasks: o.Tasks}
	cfg := master.DefaultConfig()
	cfg.IP, cfg.Port = "127.0.0.1", 0
	m, err := master.New(cfg, master.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return res, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go m.Run(runCtx)
	if err := m.EmulateLoad(ctx, o.Agents, o.Frameworks, o.Tasks); err != nil {
		return res, err
	}
	sub, err := (&client.Scheduler{Master: m.Addr()}).Subscribe(context.Background(),
		&mesos.FrameworkInfo{User: proto.String("bench"), Name: proto.String("bench-state-caller")})
	if err != nil {
		return res, err
	}
	defer sub.Close()
	// The caller is settled once it has its first offers (the master
	// offers it every agent): measuring starts there.
	for {
		ev, err := sub.Next()
		if err != nil {
			return res, err
		}
		if ev.GetType() == scheduler.Event_OFFERS {
			break
		}
	}
	go func() { // drain events
		for {
			if _, err := sub.Next(); err != nil {
				return
			}
		}
	}()

	var calls []time.Duration
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			reconcile := &scheduler.Call{Type: scheduler.Call_RECONCILE.Enum(), Reconcile: &scheduler.Call_Reconcile{
				Tasks: []*scheduler.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("task-000001")}}}}}
			if err := sub.Call(context.Background(), reconcile); err != nil {
				return
			}
			mu.Lock()
			calls = append(calls, time.Since(start))
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var states []time.Duration
	for range o.Requests {
		start := time.Now()
		n, err := get("http://" + m.Addr() + "/master/state")
		if err != nil {
			close(done)
			return res, err
		}
		states = append(states, time.Since(start))
		res.StateBytes = int(n)
	}
	close(done)
	wg.Wait()
	res.EndpointsP50Ms = map[string]float64{}
	for _, path := range []string{"/master/state-summary", "/master/frameworks", "/master/slaves", "/master/tasks"} {
		var took []time.Duration
		for range 5 {
			start := time.Now()
			if _, err := get("http://" + m.Addr() + path); err != nil {
				return res, err
			}
			took = append(took, time.Since(start))
		}
		res.EndpointsP50Ms[path] = stats.PercentileMs(took, 50)
	}
	res.StateFirstMs = stats.PercentileMs(states[:1], 100)
	res.StateP50Ms, res.StateP99Ms = stats.PercentileMs(states[1:], 50), stats.PercentileMs(states[1:], 99)
	res.SchedulerCalls = len(calls)
	res.SchedulerCallP50Ms, res.SchedulerCallP99Ms = stats.PercentileMs(calls, 50), stats.PercentileMs(calls, 99)
	res.SchedulerCallMaxMs = stats.PercentileMs(calls, 100)
	return res, nil
}

// get reads a whole response, which must be 200 OK, and returns its size.
func get(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", url, resp.Status)
	}
	return n, err
}
