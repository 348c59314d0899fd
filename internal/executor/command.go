// Package executor holds Plateau's executors. The command executor runs
// one command task for the agent, as Mesos's mesos-executor does
// (src/launcher/executor.cpp): it speaks the v1 executor HTTP API, starts
// the task's command in its own process group, reports STARTING, RUNNING
// and a terminal state, kills with the task's kill policy, and re-sends
// unacknowledged updates after a reconnection.
package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

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
}

// ConfigFromEnv reads the MESOS_* variables the agent sets.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		FrameworkID:   getenv("MESOS_FRAMEWORK_ID"),
		ExecutorID:    getenv("MESOS_EXECUTOR_ID"),
		AgentEndpoint: getenv("MESOS_AGENT_ENDPOINT"),
		Sandbox:       getenv("MESOS_SANDBOX"),
		ShutdownGrace: 5 * time.Second,
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

// commandExecutor is the executor's state; it is owned by run's goroutine.
type commandExecutor struct {
	cfg    Config
	client *http.Client
	url    string
	log    io.Writer

	framework *mesos.FrameworkInfo
	task      *mesos.TaskInfo
	cmd       *exec.Cmd
	exited    chan error // the task process's Wait result
	killing   bool
	killedAt  time.Time
	grace     time.Duration
	terminal  *mesos.TaskStatus // the terminal status, once sent
	unacked   map[string]*mesos.TaskStatus
	shutdown  bool
}

// RunCommand runs the command executor until its task has ended and the
// terminal update is acknowledged, or ctx ends.
func RunCommand(ctx context.Context, cfg Config, log io.Writer) error {
	// The executor watches one process: one thread running Go code is
	// plenty, and fewer threads make launches cheaper on a busy agent.
	runtime.GOMAXPROCS(1)
	e := &commandExecutor{
		cfg:     cfg,
		client:  &http.Client{},
		url:     "http://" + cfg.AgentEndpoint + "/api/v1/executor",
		log:     log,
		exited:  make(chan error, 1),
		unacked: map[string]*mesos.TaskStatus{},
	}
	return e.run(ctx)
}

// event is what the subscription goroutine hands the main loop.
type event struct {
	ev  *executor.Event
	err error // the subscription ended
}

func (e *commandExecutor) run(ctx context.Context) error {
	disconnectedSince := time.Time{}
	backoff := 100 * time.Millisecond
	var killTimer <-chan time.Time
	var ackDeadline <-chan time.Time
	for {
		events := make(chan event, 16)
		subCtx, cancel := context.WithCancel(ctx)
		go e.subscribe(subCtx, events)
	stream:
		for {
			select {
			case ev := <-events:
				if ev.err != nil {
					break stream
				}
				disconnectedSince = time.Time{}
				backoff = 100 * time.Millisecond
				if done := e.handle(ev.ev, &killTimer); done {
					cancel()
					return nil
				}
			case err := <-e.exited:
				e.taskExited(err)
				ackDeadline = time.After(ackTimeout)
			case <-killTimer:
				killTimer = nil
				if e.cmd != nil {
					fmt.Fprintf(e.log, "Task did not exit within its grace period %v; sending SIGKILL\n", e.grace)
					_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
				}
			case <-ackDeadline:
				cancel()
				return errors.New("terminal status update was not acknowledged in time")
			case <-ctx.Done():
				cancel()
				e.kill(0)
				return ctx.Err()
			}
			if e.terminal != nil && len(e.unacked) == 0 {
				cancel()
				return nil
			}
		}
		cancel()
		if disconnectedSince.IsZero() {
			disconnectedSince = time.Now()
		}
		if time.Since(disconnectedSince) > recoveryTimeout {
			e.kill(0)
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

// handle processes one event; it reports whether the executor is done.
func (e *commandExecutor) handle(ev *executor.Event, killTimer *<-chan time.Time) bool {
	switch ev.GetType() {
	case executor.Event_SUBSCRIBED:
		e.framework = ev.GetSubscribed().GetFrameworkInfo()
		fmt.Fprintf(e.log, "Subscribed executor on %s\n", ev.GetSubscribed().GetAgentInfo().GetHostname())
	case executor.Event_LAUNCH:
		if e.task != nil {
			fmt.Fprintln(e.log, "Ignoring a second LAUNCH: the command executor runs one task")
			return false
		}
		e.launch(ev.GetLaunch().GetTask())
	case executor.Event_KILL:
		grace := e.taskGrace()
		if p := ev.GetKill().GetKillPolicy(); p != nil && p.GracePeriod != nil {
			grace = time.Duration(p.GetGracePeriod().GetNanoseconds())
		}
		if t := e.kill(grace); t != nil {
			*killTimer = t
		}
	case executor.Event_ACKNOWLEDGED:
		delete(e.unacked, string(ev.GetAcknowledged().GetUuid()))
		if e.terminal != nil && len(e.unacked) == 0 {
			return true
		}
	case executor.Event_SHUTDOWN:
		e.shutdown = true
		if e.cmd == nil && e.terminal == nil {
			return true
		}
		if t := e.kill(e.cfg.ShutdownGrace); t != nil {
			*killTimer = t
		}
	case executor.Event_ERROR:
		fmt.Fprintf(e.log, "Error from the agent: %s\n", ev.GetError().GetMessage())
	}
	return false
}

func (e *commandExecutor) taskGrace() time.Duration {
	if p := e.task.GetKillPolicy(); p != nil && p.GracePeriod != nil {
		return time.Duration(p.GetGracePeriod().GetNanoseconds())
	}
	return defaultKillGracePeriod
}

// launch starts the task's command and reports it.
func (e *commandExecutor) launch(t *mesos.TaskInfo) {
	e.task = t
	e.update(mesos.TaskState_TASK_STARTING, "", nil)
	c := t.GetCommand()
	var cmd *exec.Cmd
	if c.GetShell() {
		cmd = exec.Command("/bin/sh", "-c", c.GetValue())
	} else {
		cmd = exec.Command(c.GetValue())
		if len(c.GetArguments()) > 0 {
			cmd.Args = c.GetArguments()
		}
	}
	cmd.Dir = e.cfg.Sandbox
	cmd.Env = os.Environ()
	for _, v := range c.GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			cmd.Env = append(cmd.Env, v.GetName()+"="+v.GetValue())
		}
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.terminate(mesos.TaskState_TASK_FAILED, "Failed to launch the command: "+err.Error(), mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum())
		return
	}
	e.cmd = cmd
	fmt.Fprintf(e.log, "Starting task %s with pid %d\n", t.GetTaskId().GetValue(), cmd.Process.Pid)
	go func() { e.exited <- cmd.Wait() }()
	e.update(mesos.TaskState_TASK_RUNNING, "", nil)
}

// kill signals the task's process group; it returns a timer for SIGKILL
// when the grace period is positive.
func (e *commandExecutor) kill(grace time.Duration) <-chan time.Time {
	if e.cmd == nil || e.terminal != nil {
		return nil
	}
	if !e.killing {
		e.killing = true
		e.grace = grace
		// Only frameworks that asked for it hear of TASK_KILLING.
		for _, c := range e.framework.GetCapabilities() {
			if c.GetType() == mesos.FrameworkInfo_Capability_TASK_KILLING_STATE {
				e.update(mesos.TaskState_TASK_KILLING, "", nil)
			}
		}
	}
	if grace <= 0 {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		return nil
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	return time.After(grace)
}

// taskExited reports how the task's process ended.
func (e *commandExecutor) taskExited(waitErr error) {
	ws, _ := e.cmd.ProcessState.Sys().(syscall.WaitStatus)
	// Kill whatever the task left behind in its process group.
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	var msg string
	switch {
	case ws.Signaled():
		msg = fmt.Sprintf("Command terminated with signal %s", ws.Signal())
	default:
		msg = fmt.Sprintf("Command exited with status %d", ws.ExitStatus())
	}
	switch {
	case e.killing:
		e.terminate(mesos.TaskState_TASK_KILLED, msg, nil)
	case ws.Exited() && ws.ExitStatus() == 0:
		e.terminate(mesos.TaskState_TASK_FINISHED, msg, nil)
	default:
		e.terminate(mesos.TaskState_TASK_FAILED, msg, mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum())
	}
}

func (e *commandExecutor) terminate(state mesos.TaskState, msg string, reason *mesos.TaskStatus_Reason) {
	e.terminal = e.update(state, msg, reason)
}

// update sends a status update, keeping it until acknowledged.
func (e *commandExecutor) update(state mesos.TaskState, msg string, reason *mesos.TaskStatus_Reason) *mesos.TaskStatus {
	u := uuid.New()
	s := &mesos.TaskStatus{
		TaskId:     e.task.GetTaskId(),
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
	e.unacked[string(s.Uuid)] = s
	call := e.call(executor.Call_UPDATE)
	call.Update = &executor.Call_Update{Status: s}
	if err := e.post(context.Background(), call); err != nil {
		// Kept in unacked: re-sent when the executor subscribes again.
		fmt.Fprintf(e.log, "Failed to send %s: %v\n", state, err)
	}
	return s
}

func (e *commandExecutor) call(t executor.Call_Type) *executor.Call {
	return &executor.Call{
		Type:        t.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(e.cfg.FrameworkID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(e.cfg.ExecutorID)},
	}
}

func (e *commandExecutor) post(ctx context.Context, call *executor.Call) error {
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

// subscribe opens the event stream and relays events until it ends.
func (e *commandExecutor) subscribe(ctx context.Context, out chan<- event) {
	call := e.call(executor.Call_SUBSCRIBE)
	call.Subscribe = &executor.Call_Subscribe{}
	if e.task != nil && e.terminal == nil {
		call.Subscribe.UnacknowledgedTasks = []*mesos.TaskInfo{e.task}
	}
	for _, s := range e.unacked {
		call.Subscribe.UnacknowledgedUpdates = append(call.Subscribe.UnacknowledgedUpdates, &executor.Call_Update{Status: s})
	}
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
