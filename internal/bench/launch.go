// Package bench holds the measurements behind `plateau bench`: each runs a
// workload against Plateau's own components and returns figures as a
// JSON-serialisable result.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/plateau/plateau/internal/stats"

	"github.com/plateau/plateau/internal/agent"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/taskstate"
)

// LaunchOptions configure the launch benchmark.
type LaunchOptions struct {
	Tasks int // tasks launched in the throughput run
	// Single is how many tasks are launched one at a time to measure the
	// latency of a lone launch.
	Single int
	// Master is an existing master's host:port; empty starts a master and
	// one agent in this process.
	Master string
	// ExecutorCommand overrides the agent's command executor (tests).
	ExecutorCommand []string
	// Isolation is the in-process agent's --isolation (default posix).
	Isolation string
	// Command is what each task runs.
	Command string
}

// LaunchResult is what `plateau bench launch` prints.
type LaunchResult struct {
	Tasks           int     `json:"tasks"`
	Seconds         float64 `json:"seconds"`
	TasksPerSecond  float64 `json:"tasks_per_second"`
	RunningP50Ms    float64 `json:"accept_to_running_p50_ms"`
	RunningP99Ms    float64 `json:"accept_to_running_p99_ms"`
	SingleTasks     int     `json:"single_tasks"`
	SingleP50Ms     float64 `json:"single_accept_to_running_p50_ms"`
	SingleP99Ms     float64 `json:"single_accept_to_running_p99_ms"`
	Failed          int     `json:"failed"`
	InProcessMaster bool    `json:"in_process_cluster"`
}

// Launch launches trivial command tasks through a master and one agent and
// measures throughput and the time from ACCEPT to TASK_RUNNING.
func Launch(ctx context.Context, opts LaunchOptions) (LaunchResult, error) {
	if opts.Tasks <= 0 {
		opts.Tasks = 1000
	}
	if opts.Command == "" {
		opts.Command = "true"
	}
	res := LaunchResult{Tasks: opts.Tasks, SingleTasks: opts.Single}
	master := opts.Master
	if master == "" {
		dir, err := os.MkdirTemp("", "plateau-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		c, err := cluster.New(cluster.Options{WorkDir: dir, Log: io.Discard, ExecutorCommand: opts.ExecutorCommand,
			Resources: "cpus:1000;mem:1000000;disk:1000;ports:[31000-32000]",
			Agent: func(_ int, c *agent.Config) {
				if opts.Isolation != "" {
					c.Isolation = opts.Isolation
				}
			}})
		if err != nil {
			return res, err
		}
		defer c.Stop()
		master, res.InProcessMaster = c.MasterAddr(), true
	}
	l := &launcher{sched: &client.Scheduler{Master: master}, command: opts.Command}
	if err := l.start(ctx); err != nil {
		return res, err
	}
	defer l.stop()

	// Throughput: launch on every offer as many tasks as fit, until all
	// are launched; wait for them all to end.
	start := time.Now()
	running, failed, err := l.run(ctx, opts.Tasks, opts.Tasks)
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.TasksPerSecond = float64(opts.Tasks) / res.Seconds
	res.RunningP50Ms, res.RunningP99Ms = stats.PercentileMs(running, 50), stats.PercentileMs(running, 99)
	res.Failed = failed
	// Latency: one task at a time.
	if opts.Single > 0 {
		var single []time.Duration
		for range opts.Single {
			d, f, err := l.run(ctx, 1, 1)
			if err != nil {
				return res, err
			}
			single = append(single, d...)
			res.Failed += f
		}
		res.SingleP50Ms, res.SingleP99Ms = stats.PercentileMs(single, 50), stats.PercentileMs(single, 99)
	}
	return res, nil
}

// launcher is a minimal framework that launches tasks as fast as offers
// come.
type launcher struct {
	sched   *client.Scheduler
	command string
	sub     *client.Subscription
	events  chan *scheduler.Event
	errs    chan error
	next    int
}

func (l *launcher) start(ctx context.Context) error {
	sub, err := l.sched.Subscribe(ctx, &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("plateau-bench-launch")})
	if err != nil {
		return err
	}
	l.sub = sub
	l.events = make(chan *scheduler.Event, 4096)
	l.errs = make(chan error, 1)
	go func() {
		for {
			ev, err := sub.Next()
			if err != nil {
				l.errs <- err
				return
			}
			l.events <- ev
		}
	}()
	return nil
}

func (l *launcher) stop() {
	_ = l.sub.Call(context.Background(), client.Teardown())
	l.sub.Close()
}

// run launches n tasks (at most perOffer per offer) and waits until all
// have ended; it returns each task's ACCEPT-to-RUNNING time.
func (l *launcher) run(ctx context.Context, n, perOffer int) ([]time.Duration, int, error) {
	need, _ := resources.Parse("cpus:0.01;mem:1", "*")
	accepted := map[string]time.Time{}
	var running []time.Duration
	launched, ended, failed := 0, 0, 0
	if err := l.sub.Call(ctx, &scheduler.Call{Type: scheduler.Call_REVIVE.Enum()}); err != nil {
		return nil, 0, err
	}
	timeout := time.After(5 * time.Minute)
	for ended < n {
		select {
		case ev := <-l.events:
			switch ev.GetType() {
			case scheduler.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					avail := resources.Resources(o.GetResources())
					want := need.Allocate(o.GetAllocationInfo().GetRole())
					var tasks []*mesos.TaskInfo
					for launched+len(tasks) < n && len(tasks) < perOffer && avail.Contains(want) {
						id := fmt.Sprintf("bench-%d", l.next)
						l.next++
						tasks = append(tasks, &mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
							AgentId: o.GetAgentId(), Resources: want, Command: &mesos.CommandInfo{Value: proto.String(l.command)}})
						avail = avail.Subtract(want)
					}
					refuse := 0.0
					if launched+len(tasks) >= n {
						refuse = 3600 // done: keep the rest away until the next REVIVE
					}
					now := time.Now()
					if err := l.sub.Call(ctx, client.Accept([]*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{client.Launch(tasks...)}, refuse)); err != nil {
						return nil, 0, err
					}
					for _, t := range tasks {
						accepted[t.GetTaskId().GetValue()] = now
					}
					launched += len(tasks)
				}
			case scheduler.Event_UPDATE:
				st := ev.GetUpdate().GetStatus()
				if len(st.GetUuid()) > 0 {
					if err := l.sub.Call(ctx, client.Acknowledge(st)); err != nil {
						return nil, 0, err
					}
				}
				id := st.GetTaskId().GetValue()
				at, ok := accepted[id]
				if !ok {
					continue
				}
				if st.GetState() == mesos.TaskState_TASK_RUNNING {
					running = append(running, time.Since(at))
				}
				if taskstate.IsTerminal(st.GetState()) {
					ended++
					delete(accepted, id)
					if st.GetState() != mesos.TaskState_TASK_FINISHED {
						failed++
					}
				}
			}
		case err := <-l.errs:
			return nil, 0, err
		case <-timeout:
			return nil, 0, fmt.Errorf("timed out with %d of %d tasks ended", ended, n)
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return running, failed, nil
}

// ContainerizerResult is what `plateau bench containerizer` prints.
type ContainerizerResult struct {
	Tasks         int     `json:"tasks"`
	PosixP50Ms    float64 `json:"unisolated_accept_to_running_p50_ms"`
	PosixP99Ms    float64 `json:"unisolated_accept_to_running_p99_ms"`
	IsolatedP50Ms float64 `json:"isolated_accept_to_running_p50_ms"`
	IsolatedP99Ms float64 `json:"isolated_accept_to_running_p99_ms"`
	AddedP50Ms    float64 `json:"isolation_adds_p50_ms"`
	Isolation     string  `json:"isolation"`
}

// Containerizer launches tasks one at a time on an unisolated agent and
// on an isolated one, and compares the ACCEPT-to-RUNNING times.
func Containerizer(ctx context.Context, tasks int, isolation string, executor []string) (ContainerizerResult, error) {
	res := ContainerizerResult{Tasks: tasks, Isolation: isolation}
	posix, err := Launch(ctx, LaunchOptions{Tasks: 1, Single: tasks, Isolation: "posix/cpu,posix/mem", ExecutorCommand: executor})
	if err != nil {
		return res, err
	}
	iso, err := Launch(ctx, LaunchOptions{Tasks: 1, Single: tasks, Isolation: isolation, ExecutorCommand: executor})
	if err != nil {
		return res, err
	}
	res.PosixP50Ms, res.PosixP99Ms = posix.SingleP50Ms, posix.SingleP99Ms
	res.IsolatedP50Ms, res.IsolatedP99Ms = iso.SingleP50Ms, iso.SingleP99Ms
	res.AddedP50Ms = iso.SingleP50Ms - posix.SingleP50Ms
	return res, nil
}
