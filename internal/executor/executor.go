// Package executor holds Plateau's two built-in executors, which share one
// implementation. The command executor runs one command task, as Mesos's
// mesos-executor does (src/launcher/executor.cpp); the default executor
// runs task groups (LAUNCH_GROUP), as mesos-default-executor does
// (src/launcher/default_executor.cpp): the tasks of a group share the
// sandbox, and when one fails or is killed the others are killed.
//
// Both speak the v1 executor HTTP API, start each task's command in its
// own process group, report STARTING, RUNNING and a terminal state, kill
// with the task's kill policy (SIGTERM, then SIGKILL after the grace
// period), and re-send unacknowledged updates after a reconnection.
package executor

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/plateau/plateau/internal/containerizer"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/executor"
)

// Defaults of Mesos's command executor.
const (
	defaultKillGracePeriod = 3 * time.Second
	maxReconnectBackoff    = 2 * time.Second
	recoveryTimeout        = 15 * time.Minute
	// ackTimeout bounds the wait for the terminal update's acknowledgement.
	ackTimeout = time.Minute
)

// Config is what the agent tells an executor through its environment.
type Config struct {
	FrameworkID   string
	ExecutorID    string
	AgentEndpoint string // host:port
	Sandbox       string
	ShutdownGrace time.Duration
	// Default selects the default executor (task groups) rather than the
	// command executor.
	Default bool
	// RemountProc asks for a /proc of the executor's own pid namespace.
	RemountProc bool
	// PrivateTmp, when set, is the sandbox directory to bind over /tmp
	// (filesystem/linux).
	PrivateTmp string
	// Checkpoint is set for frameworks that checkpoint: the executor then
	// waits for a restarted agent; otherwise it ends its tasks as soon as
	// it loses the agent, as Mesos's executors do.
	Checkpoint bool
}

// DefaultExecutorEnv is set (to "1") by the agent for the default executor.
const DefaultExecutorEnv = "PLATEAU_DEFAULT_EXECUTOR"

// ConfigFromEnv reads the MESOS_* variables the agent sets.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		FrameworkID:   getenv("MESOS_FRAMEWORK_ID"),
		ExecutorID:    getenv("MESOS_EXECUTOR_ID"),
		AgentEndpoint: getenv("MESOS_AGENT_ENDPOINT"),
		Sandbox:       getenv("MESOS_SANDBOX"),
		ShutdownGrace: 5 * time.Second,
		Default:       getenv(DefaultExecutorEnv) == "1",
		Checkpoint:    getenv("MESOS_CHECKPOINT") == "1",
		RemountProc:   getenv(containerizer.RemountProcEnv) == "1",
		PrivateTmp:    getenv(containerizer.PrivateTmpEnv),
	}
	var missing []string
	for name, v := range map[string]string{"MESOS_FRAMEWORK_ID": c.FrameworkID, "MESOS_EXECUTOR_ID": c.ExecutorID, "MESOS_AGENT_ENDPOINT": c.AgentEndpoint} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("missing environment variables %s: the command executor is started by the agent", strings.Join(missing, ", "))
	}
	if v := getenv("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"); v != "" {
		d, err := ParseMesosDuration(v)
		if err != nil {
			return c, fmt.Errorf("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: %w", err)
		}
		c.ShutdownGrace = d
	}
	return c, nil
}

// ParseMesosDuration parses stout's duration text ("5secs", "1mins",
// "250ms", "2hrs") and Go's ("5s").
func ParseMesosDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond}, {"secs", time.Second},
		{"mins", time.Minute}, {"hrs", time.Hour}, {"days", 24 * time.Hour}, {"weeks", 7 * 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var v float64
			if _, err := fmt.Sscanf(num, "%g", &v); err != nil {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return time.ParseDuration(s)
}

// runningTask is one task the executor runs.
type runningTask struct {
	info     *mesos.TaskInfo
	group    int // tasks launched by one LAUNCH_GROUP share a group
	cmd      *exec.Cmd
	killing  bool
	grace    time.Duration
	terminal bool

	// Health checking: its cancel, when the first check passed or the
	// grace period ended, the consecutive failures, the last verdict.
	stopHealth  context.CancelFunc
	healthStart time.Time
	checked     bool
	failures    uint32
	healthy     *bool
	// checkStatus is the latest result of the task's CheckInfo.
	checkStatus *mesos.CheckStatusInfo
}

// taskExit is a task process's end, from its waiting goroutine.
type taskExit struct {
	id  string
	err error
}

// taskExecutor is the executor's state, owned by run's goroutine.
type taskExecutor struct {
	cfg    Config
	client *http.Client
	url    string
	log    io.Writer

	framework *mesos.FrameworkInfo
	tasks     map[string]*runningTask
	groups    int
	exits     chan taskExit
	health    chan healthResult
	checks    chan checkResult
	killNow   chan string // task IDs whose grace period ran out
	unacked   map[string]*mesos.TaskStatus
	// inSubscribe holds the UUIDs of the updates the current SUBSCRIBE
	// call carries; the others are sent once it is answered.
	inSubscribe map[string]bool
	launched    bool
	shutdown    bool
	// subscribedOnce is set once a subscription worked.
	subscribedOnce bool
}

// RunCommand runs the command executor, or the default executor when
// cfg.Default is set, until its tasks have ended and their terminal
// updates are acknowledged, or ctx ends.
func RunCommand(ctx context.Context, cfg Config, log io.Writer) error {
	// The executor watches a few processes: one thread running Go code is
	// plenty, and fewer threads make launches cheaper on a busy agent.
	runtime.GOMAXPROCS(1)
	if cfg.RemountProc {
		if err := remountProc(); err != nil {
			return err
		}
	}
	if cfg.PrivateTmp != "" {
		if err := privateTmp(cfg.PrivateTmp, cfg.Sandbox); err != nil {
			return err
		}
	}
	e := &taskExecutor{
		cfg:     cfg,
		client:  &http.Client{},
		url:     "http://" + cfg.AgentEndpoint + "/api/v1/executor",
		log:     log,
		tasks:   map[string]*runningTask{},
		exits:   make(chan taskExit, 16),
		health:  make(chan healthResult, 16),
		checks:  make(chan checkResult, 16),
		killNow: make(chan string, 16),
		unacked: map[string]*mesos.TaskStatus{},
	}
	return e.run(ctx)
}

// event is what the subscription goroutine hands the main loop.
type event struct {
	ev  *executor.Event
	err error // the subscription ended
}

func (e *taskExecutor) run(ctx context.Context) error {
	disconnectedSince := time.Time{}
	backoff := 100 * time.Millisecond
	var ackDeadline <-chan time.Time
	for {
		events := make(chan event, 16)
		subCtx, cancel := context.WithCancel(ctx)
		go e.subscribe(subCtx, e.subscribeCall(), events)
	stream:
		for {
			select {
			case ev := <-events:
				if ev.err != nil {
					break stream
				}
				disconnectedSince = time.Time{}
				backoff = 100 * time.Millisecond
				e.subscribedOnce = true
				e.handle(ev.ev)
			case x := <-e.exits:
				e.taskExited(x)
				if e.done() {
					ackDeadline = time.After(ackTimeout)
				}
			case r := <-e.health:
				e.healthChecked(r)
			case r := <-e.checks:
				e.checked(r)
			case id := <-e.killNow:
				if t := e.tasks[id]; t != nil && !t.terminal {
					fmt.Fprintf(e.log, "Task %s did not exit within its grace period %v; sending SIGKILL\n", id, t.grace)
					_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
				}
			case <-ackDeadline:
				cancel()
				return errors.New("terminal status updates were not acknowledged in time")
			case <-ctx.Done():
				cancel()
				e.killAll(0)
				return ctx.Err()
			}
			// Done once every update is acknowledged; after SHUTDOWN, once
			// the tasks have ended: nobody may acknowledge any more.
			if e.done() && (len(e.unacked) == 0 || e.shutdown) {
				cancel()
				return nil
			}
		}
		cancel()
		if !e.cfg.Checkpoint && e.subscribedOnce {
			e.killAll(0)
			return errors.New("lost the agent, and the framework does not checkpoint")
		}
		if disconnectedSince.IsZero() {
			disconnectedSince = time.Now()
		}
		if time.Since(disconnectedSince) > recoveryTimeout {
			e.killAll(0)
			return errors.New("could not reconnect to the agent within the recovery timeout")
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, maxReconnectBackoff)
	}
}

// done reports whether every task has ended (and one was launched, or
// the executor was told to shut down).
func (e *taskExecutor) done() bool {
	if !e.launched && !e.shutdown {
		return false
	}
	for _, t := range e.tasks {
		if !t.terminal {
			return false
		}
	}
	return true
}

// handle processes one event.
func (e *taskExecutor) handle(ev *executor.Event) {
	switch ev.GetType() {
	case executor.Event_SUBSCRIBED:
		e.framework = ev.GetSubscribed().GetFrameworkInfo()
		fmt.Fprintf(e.log, "Subscribed executor on %s\n", ev.GetSubscribed().GetAgentInfo().GetHostname())
		e.sendUpdatesMadeSinceSubscribe()
	case executor.Event_LAUNCH:
		if e.cfg.Default || e.launched {
			fmt.Fprintln(e.log, "Ignoring LAUNCH: the command executor runs one task, the default executor task groups")
			return
		}
		e.groups++
		e.launch(ev.GetLaunch().GetTask(), e.groups)
	case executor.Event_LAUNCH_GROUP:
		if !e.cfg.Default {
			fmt.Fprintln(e.log, "Ignoring LAUNCH_GROUP: the command executor runs one task")
			return
		}
		e.groups++
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			e.launch(t, e.groups)
		}
	case executor.Event_KILL:
		t := e.tasks[ev.GetKill().GetTaskId().GetValue()]
		if t == nil {
			return
		}
		grace := taskGrace(t.info)
		if p := ev.GetKill().GetKillPolicy(); p != nil && p.GracePeriod != nil {
			grace = time.Duration(p.GetGracePeriod().GetNanoseconds())
		}
		e.killGroup(t.group, grace)
	case executor.Event_ACKNOWLEDGED:
		delete(e.unacked, string(ev.GetAcknowledged().GetUuid()))
	case executor.Event_SHUTDOWN:
		e.shutdown = true
		e.killAll(e.cfg.ShutdownGrace)
	case executor.Event_ERROR:
		fmt.Fprintf(e.log, "Error from the agent: %s\n", ev.GetError().GetMessage())
	}
}

func taskGrace(t *mesos.TaskInfo) time.Duration {
	if p := t.GetKillPolicy(); p != nil && p.GracePeriod != nil {
		return time.Duration(p.GetGracePeriod().GetNanoseconds())
	}
	return defaultKillGracePeriod
}

// launch starts a task's command and reports it.
func (e *taskExecutor) launch(info *mesos.TaskInfo, group int) {
	id := info.GetTaskId().GetValue()
	if _, dup := e.tasks[id]; dup {
		return
	}
	e.launched = true
	t := &runningTask{info: info, group: group}
	e.tasks[id] = t
	e.update(t, mesos.TaskState_TASK_STARTING, "", nil)
	cmd, err := e.command(info)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		e.terminate(t, mesos.TaskState_TASK_FAILED, "Failed to launch the command: "+err.Error(), mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum())
		e.killGroup(group, taskGrace(info))
		return
	}
	t.cmd = cmd
	fmt.Fprintf(e.log, "Starting task %s with pid %d\n", id, cmd.Process.Pid)
	go func() { e.exits <- taskExit{id: id, err: cmd.Wait()} }()
	e.update(t, mesos.TaskState_TASK_RUNNING, "", nil)
	if hc, ci := info.GetHealthCheck(), info.GetCheck(); hc != nil || ci != nil {
		ctx, cancel := context.WithCancel(context.Background())
		t.stopHealth, t.healthStart = cancel, time.Now()
		if hc != nil {
			go checkHealth(ctx, id, hc, e.cfg.Sandbox, e.health)
		}
		if ci != nil {
			go runChecks(ctx, id, ci, e.cfg.Sandbox, e.checks)
		}
	}
}

// checked reports a changed CheckInfo result as TASK_RUNNING with
// check_status, as Mesos does.
func (e *taskExecutor) checked(r checkResult) {
	t := e.tasks[r.task]
	if t == nil || t.terminal || proto.Equal(t.checkStatus, r.status) {
		return
	}
	t.checkStatus = r.status
	e.update(t, mesos.TaskState_TASK_RUNNING, "", mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED.Enum())
}

// healthChecked applies a health check result as Mesos does: failures
// in the grace period (before the first success) are ignored; a change of
// health is reported as TASK_RUNNING with `healthy`; consecutive_failures
// failures in a row kill the task.
func (e *taskExecutor) healthChecked(r healthResult) {
	t := e.tasks[r.task]
	if t == nil || t.terminal || t.killing {
		return
	}
	hc := t.info.GetHealthCheck()
	if r.healthy {
		t.checked, t.failures = true, 0
	} else {
		grace := time.Duration(hc.GetGracePeriodSeconds() * float64(time.Second))
		if !t.checked && time.Since(t.healthStart) < grace {
			return // still in the grace period
		}
		t.failures++
	}
	if t.healthy == nil || *t.healthy != r.healthy {
		healthy := r.healthy
		t.healthy = &healthy
		e.update(t, mesos.TaskState_TASK_RUNNING, r.detail, mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum())
	}
	if !r.healthy && t.failures >= hc.GetConsecutiveFailures() {
		fmt.Fprintf(e.log, "Task %s failed %d consecutive health checks; killing it\n", r.task, t.failures)
		e.kill(t, taskGrace(t.info))
	}
}

// command prepares a task's process: its own process group, the sandbox
// as working directory, the task's environment. The command executor's
// task writes to the executor's stdout and stderr (the sandbox's); each
// task of a group gets tasks/<task ID>/stdout and stderr.
func (e *taskExecutor) command(info *mesos.TaskInfo) (*exec.Cmd, error) {
	cmd := commandFor(context.Background(), info.GetCommand(), e.cfg.Sandbox)
	cmd.Env = append(cmd.Env, "MESOS_TASK_ID="+info.GetTaskId().GetValue())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !e.cfg.Default {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd, nil
	}
	dir := filepath.Join(e.cfg.Sandbox, "tasks", info.GetTaskId().GetValue())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stdout, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	stderr, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr // closed by Wait
	return cmd, nil
}

// killGroup kills every running task of a group.
func (e *taskExecutor) killGroup(group int, grace time.Duration) {
	for _, t := range e.tasks {
		if t.group == group {
			e.kill(t, grace)
		}
	}
}

func (e *taskExecutor) killAll(grace time.Duration) {
	for _, t := range e.tasks {
		e.kill(t, grace)
	}
}

// kill signals a task's process group: SIGTERM, and SIGKILL once the
// grace period is over (at once when it is zero).
func (e *taskExecutor) kill(t *runningTask, grace time.Duration) {
	if t.cmd == nil || t.terminal || t.killing {
		return
	}
	t.killing, t.grace = true, grace
	// Only frameworks that asked for it hear of TASK_KILLING.
	for _, c := range e.framework.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_TASK_KILLING_STATE {
			e.update(t, mesos.TaskState_TASK_KILLING, "", nil)
		}
	}
	if grace <= 0 {
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	id := t.info.GetTaskId().GetValue()
	time.AfterFunc(grace, func() { e.killNow <- id })
}

// taskExited reports how a task's process ended; in a group, a task that
// did not succeed takes the others down with it.
func (e *taskExecutor) taskExited(x taskExit) {
	t := e.tasks[x.id]
	if t == nil || t.terminal {
		return
	}
	ws, _ := t.cmd.ProcessState.Sys().(syscall.WaitStatus)
	// Kill whatever the task left behind in its process group.
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	msg := fmt.Sprintf("Command exited with status %d", ws.ExitStatus())
	if ws.Signaled() {
		msg = fmt.Sprintf("Command terminated with signal %s", ws.Signal())
	}
	switch {
	case t.killing:
		e.terminate(t, mesos.TaskState_TASK_KILLED, msg, nil)
	case ws.Exited() && ws.ExitStatus() == 0:
		e.terminate(t, mesos.TaskState_TASK_FINISHED, msg, nil)
	default:
		e.terminate(t, mesos.TaskState_TASK_FAILED, msg, mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum())
		e.killGroup(t.group, taskGrace(t.info))
	}
}

func (e *taskExecutor) terminate(t *runningTask, state mesos.TaskState, msg string, reason *mesos.TaskStatus_Reason) {
	t.terminal = true
	if t.stopHealth != nil {
		t.stopHealth()
	}
	e.update(t, state, msg, reason)
}

// update sends a status update, keeping it until acknowledged.
func (e *taskExecutor) update(t *runningTask, state mesos.TaskState, msg string, reason *mesos.TaskStatus_Reason) {
	u := uuid.New()
	s := &mesos.TaskStatus{
		TaskId:     t.info.GetTaskId(),
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:       u[:],
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.cfg.ExecutorID)},
		Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		Reason:     reason,
	}
	if msg != "" {
		s.Message = proto.String(msg)
	}
	s.Healthy = t.healthy
	s.CheckStatus = t.checkStatus
	e.unacked[string(s.Uuid)] = s
	call := e.call(executor.Call_UPDATE)
	call.Update = &executor.Call_Update{Status: s}
	if err := e.post(context.Background(), call); err != nil {
		// Kept in unacked: re-sent when the executor subscribes again.
		fmt.Fprintf(e.log, "Failed to send %s: %v\n", state, err)
	}
}

func (e *taskExecutor) call(t executor.Call_Type) *executor.Call {
	return &executor.Call{
		Type:        t.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(e.cfg.FrameworkID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(e.cfg.ExecutorID)},
	}
}

func (e *taskExecutor) post(ctx context.Context, call *executor.Call) error {
	body, err := proto.Marshal(call)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("agent answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// subscribeCall is the SUBSCRIBE call, with the tasks and updates the
// agent has not acknowledged; the updates it carries are noted.
func (e *taskExecutor) subscribeCall() *executor.Call {
	call := e.call(executor.Call_SUBSCRIBE)
	call.Subscribe = &executor.Call_Subscribe{}
	for _, t := range e.tasks {
		if !t.terminal {
			call.Subscribe.UnacknowledgedTasks = append(call.Subscribe.UnacknowledgedTasks, t.info)
		}
	}
	e.inSubscribe = map[string]bool{}
	for id, s := range e.unacked {
		call.Subscribe.UnacknowledgedUpdates = append(call.Subscribe.UnacknowledgedUpdates, &executor.Call_Update{Status: s})
		e.inSubscribe[id] = true
	}
	return call
}

// sendUpdatesMadeSinceSubscribe sends, in order, the updates made after
// the SUBSCRIBE call was built: the agent refused them (403) until the
// subscription was answered.
func (e *taskExecutor) sendUpdatesMadeSinceSubscribe() {
	var later []*mesos.TaskStatus
	for id, s := range e.unacked {
		if !e.inSubscribe[id] {
			later = append(later, s)
		}
	}
	slices.SortFunc(later, func(a, b *mesos.TaskStatus) int { return cmp.Compare(a.GetTimestamp(), b.GetTimestamp()) })
	for _, s := range later {
		call := e.call(executor.Call_UPDATE)
		call.Update = &executor.Call_Update{Status: s}
		if err := e.post(context.Background(), call); err != nil {
			fmt.Fprintf(e.log, "Failed to send %s: %v\n", s.GetState(), err)
		}
	}
}

// subscribe sends the SUBSCRIBE call and relays the events of the stream
// until it ends. It runs on a goroutine of its own, and touches nothing
// of the executor's.
func (e *taskExecutor) subscribe(ctx context.Context, call *executor.Call, out chan<- event) {
	body, err := proto.Marshal(call)
	if err == nil {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
			req.Header.Set("Accept", codec.MediaTypeProtobuf)
			var resp *http.Response
			if resp, err = e.client.Do(req); err == nil {
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
					err = fmt.Errorf("subscribe: agent answered %s: %s", resp.Status, bytes.TrimSpace(msg))
				} else {
					r := codec.NewRecordIOReader(resp.Body, codec.Protobuf)
					for {
						ev := &executor.Event{}
						if err = r.Read(ev); err != nil {
							break
						}
						select {
						case out <- event{ev: ev}:
						case <-ctx.Done():
							return
						}
					}
				}
			}
		}
	}
	select {
	case out <- event{err: err}:
	case <-ctx.Done():
	}
}
