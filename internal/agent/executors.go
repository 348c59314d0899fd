package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plateau/plateau/internal/resources"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/executor"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/containerizer"
	executorpkg "github.com/plateau/plateau/internal/executor"
	"github.com/plateau/plateau/internal/fetcher"
	"github.com/plateau/plateau/internal/queue"
)

// maxCompleted bounds the finished executors and frameworks kept for
// /state.
const maxCompleted = 100

type framework struct {
	info *mesos.FrameworkInfo
	// shuttingDown is set once the master has removed the framework: its
	// tasks' updates have nobody to go to.
	shuttingDown       bool
	executors          map[string]*executorRun
	completedExecutors []*executorRun
}

// executorRun is one run of an executor in its container.
type executorRun struct {
	info        *mesos.ExecutorInfo
	frameworkID string
	containerID string
	directory   string
	// command marks Plateau's command executor (one task, executor ID =
	// task ID).
	command bool

	container containerizer.Container
	// stream carries events to the subscribed executor; nil until it
	// subscribes and after it disconnects.
	stream   *queue.Queue[*executor.Event]
	streamID int

	queued      []*mesos.TaskInfo      // tasks waiting for the executor to subscribe
	queuedGroup []*mesos.TaskGroupInfo // task groups likewise
	tasks       map[string]*mesos.Task // launched and not yet acknowledged terminal
	completed   []*mesos.Task

	registration *time.Timer
	killTimer    *time.Timer
	shuttingDown bool
	terminated   bool
	exited       chan struct{} // closed when the container has exited

	// disk/du: the sandbox's last measured size, and why the container
	// was killed for its disk use.
	diskUsedBytes  int64
	diskLimitation string
}

// Plateau's own executors get Mesos's default executor resources on top
// of their tasks' (src/slave/constants.hpp: 0.1 cpus, 32 MB).
const (
	executorCPUs  = 0.1
	executorMemMB = 32
)

// limits are what the container may use: the executor's and its tasks'
// resources.
func (e *executorRun) limits() containerizer.Limits {
	var rs resources.Resources
	rs = rs.Add(e.info.GetResources())
	for _, t := range e.queued {
		rs = rs.Add(t.GetResources())
	}
	for _, g := range e.queuedGroup {
		for _, t := range g.GetTasks() {
			rs = rs.Add(t.GetResources())
		}
	}
	l := containerizer.Limits{CPUs: rs.Scalar("cpus"), MemoryMB: rs.Scalar("mem")}
	if e.command || e.info.GetType() == mesos.ExecutorInfo_DEFAULT {
		l.CPUs += executorCPUs
		l.MemoryMB += executorMemMB
	}
	return l
}

// limitation reports whether the container's isolation stopped it.
func (e *executorRun) limitation() (containerizer.Limitation, bool) {
	if l, ok := e.container.(containerizer.Limited); ok {
		return l.Limitation()
	}
	return containerizer.Limitation{}, false
}

func (e *executorRun) send(ev *executor.Event) {
	if e.stream != nil {
		e.stream.Push(ev)
	}
}

func (e *executorRun) sendMessage(data []byte) {
	e.send(&executor.Event{Type: executor.Event_MESSAGE.Enum(), Message: &executor.Event_Message{Data: data}})
}

func (a *Agent) executor(fwID, execID string) *executorRun {
	if fw := a.frameworks[fwID]; fw != nil {
		return fw.executors[execID]
	}
	return nil
}

// executorOf finds the executor that runs (or will run) a task.
func (a *Agent) executorOf(fwID, taskID string) *executorRun {
	fw := a.frameworks[fwID]
	if fw == nil {
		return nil
	}
	for _, e := range fw.executors {
		if _, ok := e.tasks[taskID]; ok {
			return e
		}
	}
	return nil
}

// commandExecutorInfo is the ExecutorInfo of Plateau's command executor
// for a command task.
func (a *Agent) commandExecutorInfo(fw *mesos.FrameworkInfo, task *mesos.TaskInfo) *mesos.ExecutorInfo {
	cmd := task.GetCommand()
	desc := cmd.GetValue()
	if !cmd.GetShell() {
		desc = strings.Join(append([]string{cmd.GetValue()}, cmd.GetArguments()...), " ")
	}
	return &mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_CUSTOM.Enum(),
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(task.GetTaskId().GetValue())},
		FrameworkId: fw.GetId(),
		Name:        proto.String(fmt.Sprintf("Command Executor (Task: %s) (Command: %s)", task.GetTaskId().GetValue(), desc)),
		Source:      proto.String(task.GetTaskId().GetValue()),
		Command: &mesos.CommandInfo{
			Shell:     proto.Bool(false),
			Value:     proto.String(a.cfg.ExecutorCommand[0]),
			Arguments: a.cfg.ExecutorCommand,
			Uris:      cmd.GetUris(),
			User:      cmd.User,
		},
	}
}

// runTask starts a task (RunTask) or a task group (RunTaskGroup): the
// executor is launched if needed, and the tasks wait for it to subscribe.
func (a *Agent) runTask(fwInfo *mesos.FrameworkInfo, execInfo *mesos.ExecutorInfo, task *mesos.TaskInfo, group *mesos.TaskGroupInfo) {
	fwID := fwInfo.GetId().GetValue()
	fw := a.frameworks[fwID]
	if fw == nil {
		fw = &framework{executors: map[string]*executorRun{}}
		a.frameworks[fwID] = fw
	}
	fw.info = fwInfo
	command := false
	if task != nil {
		execInfo = task.GetExecutor()
		if execInfo == nil {
			execInfo = a.commandExecutorInfo(fwInfo, task)
			command = true
		}
	}
	e := fw.executors[execInfo.GetExecutorId().GetValue()]
	if e != nil && (e.shuttingDown || e.terminated) {
		for _, t := range tasksOf(task, group) {
			a.agentUpdate(fwID, e, t, mesos.TaskState_TASK_DROPPED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor is shutting down")
		}
		return
	}
	if e == nil {
		var err error
		if e, err = a.newExecutor(fw, execInfo, command); err != nil {
			for _, t := range tasksOf(task, group) {
				a.agentUpdate(fwID, nil, t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, err.Error())
			}
			return
		}
	}
	volumes := resources.Resources(execInfo.GetResources())
	for _, t := range tasksOf(task, group) {
		volumes = volumes.Add(t.GetResources())
	}
	if err := a.linkVolumes(e.directory, volumes); err != nil {
		for _, t := range tasksOf(task, group) {
			a.agentUpdate(fwID, nil, t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, err.Error())
		}
		return
	}
	for _, t := range tasksOf(task, group) {
		e.tasks[t.GetTaskId().GetValue()] = &mesos.Task{
			Name: t.Name, TaskId: t.GetTaskId(), FrameworkId: fwInfo.GetId(), ExecutorId: execInfo.GetExecutorId(),
			AgentId: a.info.GetId(), State: mesos.TaskState_TASK_STAGING.Enum(), Resources: t.GetResources(),
			Labels: t.GetLabels(), Discovery: t.GetDiscovery(), Container: t.GetContainer(), HealthCheck: t.GetHealthCheck(),
			KillPolicy: t.GetKillPolicy(), User: fwInfo.User,
		}
	}
	if e.stream != nil {
		if task != nil {
			e.send(launchEvent(task))
		} else {
			e.send(launchGroupEvent(group))
		}
		return
	}
	if task != nil {
		e.queued = append(e.queued, task)
	} else {
		e.queuedGroup = append(e.queuedGroup, group)
	}
}

func tasksOf(task *mesos.TaskInfo, group *mesos.TaskGroupInfo) []*mesos.TaskInfo {
	if task != nil {
		return []*mesos.TaskInfo{task}
	}
	return group.GetTasks()
}

func launchEvent(t *mesos.TaskInfo) *executor.Event {
	return &executor.Event{Type: executor.Event_LAUNCH.Enum(), Launch: &executor.Event_Launch{Task: t}}
}

func launchGroupEvent(g *mesos.TaskGroupInfo) *executor.Event {
	return &executor.Event{Type: executor.Event_LAUNCH_GROUP.Enum(), LaunchGroup: &executor.Event_LaunchGroup{TaskGroup: g}}
}

// newExecutor makes the executor's sandbox and starts fetching its URIs;
// the container is launched when the fetch is done.
func (a *Agent) newExecutor(fw *framework, info *mesos.ExecutorInfo, command bool) (*executorRun, error) {
	fwID := fw.info.GetId().GetValue()
	execID := info.GetExecutorId().GetValue()
	e := &executorRun{
		info: info, frameworkID: fwID, containerID: uuid.NewString(), command: command,
		tasks: map[string]*mesos.Task{}, exited: make(chan struct{}),
	}
	base := filepath.Join(a.cfg.WorkDir, "slaves", a.info.GetId().GetValue(), "frameworks", fwID, "executors", execID, "runs")
	e.directory = filepath.Join(base, e.containerID)
	if err := os.MkdirAll(e.directory, 0o755); err != nil {
		return nil, fmt.Errorf("creating sandbox: %w", err)
	}
	latest := filepath.Join(base, "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(e.containerID, latest)
	a.files.Attach(e.directory, e.directory)
	a.files.Attach(fmt.Sprintf("/frameworks/%s/executors/%s/runs/latest", fwID, execID), e.directory)
	fw.executors[execID] = e

	uris := toFetcherURIs(info.GetCommand().GetUris())
	dir := e.directory
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ExecutorRegistrationTimeout)
		defer cancel()
		err := a.fetcher.Fetch(ctx, uris, dir)
		a.post(func() { a.fetched(e, err) })
	}()
	return e, nil
}

func toFetcherURIs(uris []*mesos.CommandInfo_URI) []fetcher.URI {
	out := make([]fetcher.URI, len(uris))
	for i, u := range uris {
		out[i] = fetcher.URI{Value: u.GetValue(), Executable: u.GetExecutable(), Extract: u.GetExtract(),
			Cache: u.GetCache(), OutputFile: u.GetOutputFile()}
	}
	return out
}

// fetched launches the executor's container once its URIs are in the
// sandbox, or fails its tasks when the fetch failed.
func (a *Agent) fetched(e *executorRun, fetchErr error) {
	if e.terminated || e.shuttingDown {
		a.executorTerminated(e, 0, "Executor was shut down before it started")
		return
	}
	if fetchErr != nil {
		a.log.Warn("fetch failed", "framework", e.frameworkID, "executor", e.info.GetExecutorId().GetValue(), "err", fetchErr)
		// Mesos 1.11 has no REASON_FETCHER_FAILED: a failed fetch is a failed
		// container launch, with the fetch error in the message.
		a.failPending(e, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, "Failed to fetch all URIs into container: "+fetchErr.Error())
		a.executorTerminated(e, 0, "")
		return
	}
	cfg := containerizer.LaunchConfig{
		ContainerID: e.containerID,
		Argv:        a.executorArgv(e.info),
		Env:         a.executorEnv(e),
		Dir:         e.directory,
		Stdout:      filepath.Join(e.directory, "stdout"),
		Stderr:      filepath.Join(e.directory, "stderr"),
		Limits:      e.limits(),
	}
	c, err := a.containerizer.Launch(context.Background(), cfg)
	if err != nil {
		a.failPending(e, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Failed to launch container: "+err.Error())
		a.executorTerminated(e, 0, "")
		return
	}
	e.container = c
	a.checkpointExecutor(e)
	a.log.Info("launched executor", "framework", e.frameworkID, "executor", e.info.GetExecutorId().GetValue(), "pid", c.Pid(), "sandbox", e.directory)
	go func() {
		status, err := c.Wait()
		if err != nil {
			a.log.Warn("waiting for executor", "err", err)
		}
		a.post(func() { a.executorTerminated(e, status, "") })
	}()
	e.registration = a.after(a.cfg.ExecutorRegistrationTimeout, func() {
		if e.stream == nil && !e.terminated && e.container != nil {
			a.log.Warn("executor did not subscribe in time; killing it", "executor", e.info.GetExecutorId().GetValue())
			a.failPending(e, mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT, "Executor did not register within "+a.cfg.ExecutorRegistrationTimeout.String())
			_ = e.container.Signal(syscall.SIGKILL)
		}
	})
}

// executorArgv is the program and arguments that start an executor: the
// default executor is Plateau's own, others run their CommandInfo.
func (a *Agent) executorArgv(info *mesos.ExecutorInfo) []string {
	if info.GetType() == mesos.ExecutorInfo_DEFAULT {
		return a.cfg.ExecutorCommand
	}
	c := info.GetCommand()
	if c.GetShell() {
		return []string{"/bin/sh", "-c", c.GetValue()}
	}
	argv := []string{c.GetValue()}
	if len(c.GetArguments()) > 1 {
		argv = append(argv, c.GetArguments()[1:]...)
	}
	return argv
}

// executorEnv is the agent's environment plus what Mesos gives executors.
func (a *Agent) executorEnv(e *executorRun) []string {
	env := os.Environ()
	checkpoint := "0"
	if fw := a.frameworks[e.frameworkID]; fw != nil && fw.info.GetCheckpoint() {
		checkpoint = "1"
	}
	env = append(env,
		"MESOS_FRAMEWORK_ID="+e.frameworkID,
		"MESOS_EXECUTOR_ID="+e.info.GetExecutorId().GetValue(),
		"MESOS_DIRECTORY="+e.directory,
		"MESOS_SANDBOX="+e.directory,
		"MESOS_AGENT_ENDPOINT="+a.endpoint(),
		"MESOS_SLAVE_ID="+a.info.GetId().GetValue(),
		"MESOS_AGENT_ID="+a.info.GetId().GetValue(),
		"MESOS_SLAVE_PID=slave(1)@"+a.endpoint(),
		"MESOS_CHECKPOINT="+checkpoint,
		"MESOS_CONTAINER_ID="+e.containerID,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+mesosDuration(a.cfg.ExecutorShutdownGracePeriod),
		"MESOS_RECOVERY_TIMEOUT=15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs",
		"MESOS_HTTP_COMMAND_EXECUTOR=1",
	)
	if e.command {
		env = append(env, "MESOS_TASK_ID="+e.info.GetExecutorId().GetValue())
	}
	if e.info.GetType() == mesos.ExecutorInfo_DEFAULT {
		env = append(env, executorpkg.DefaultExecutorEnv+"=1")
	}
	for _, v := range e.info.GetCommand().GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			env = append(env, v.GetName()+"="+v.GetValue())
		}
	}
	return env
}

// mesosDuration formats a duration the way Mesos's stout does ("5secs").
func mesosDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmins", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%dsecs", d/time.Second)
	default:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
}

// failPending ends the tasks an executor has not been given yet.
func (a *Agent) failPending(e *executorRun, reason mesos.TaskStatus_Reason, msg string) {
	for _, t := range e.queued {
		a.agentUpdate(e.frameworkID, e, t, mesos.TaskState_TASK_FAILED, reason, msg)
	}
	for _, g := range e.queuedGroup {
		for _, t := range g.GetTasks() {
			a.agentUpdate(e.frameworkID, e, t, mesos.TaskState_TASK_FAILED, reason, msg)
		}
	}
	e.queued, e.queuedGroup = nil, nil
}

// agentUpdate makes and sends a status update on a task's behalf.
func (a *Agent) agentUpdate(fwID string, e *executorRun, t *mesos.TaskInfo, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	status := &mesos.TaskStatus{
		TaskId: t.GetTaskId(), State: state.Enum(), Source: mesos.TaskStatus_SOURCE_AGENT.Enum(),
		Reason: reason.Enum(), Message: proto.String(msg),
	}
	if e != nil {
		status.ExecutorId = e.info.GetExecutorId()
	}
	a.statusUpdate(fwID, e, status)
}

// statusUpdate records a task's new status and sends it on its way to the
// framework through the update manager.
func (a *Agent) statusUpdate(fwID string, e *executorRun, status *mesos.TaskStatus) {
	now := time.Now()
	taskID := status.GetTaskId().GetValue()
	if status.Uuid != nil && (a.updates.has(fwID, taskID, status.GetUuid()) || a.updates.wasAcked(fwID, taskID, status.GetUuid())) {
		return // an update the agent already has: updates are idempotent
	}
	if status.Uuid == nil {
		u := uuid.New()
		status.Uuid = u[:]
	}
	if status.Timestamp == nil {
		status.Timestamp = proto.Float64(float64(now.UnixNano()) / 1e9)
	}
	status.AgentId = a.info.GetId()
	if e != nil {
		status.ExecutorId = e.info.GetExecutorId()
		if t := e.tasks[status.GetTaskId().GetValue()]; t != nil {
			n := proto.Clone(t).(*mesos.Task)
			n.State = status.State
			stored := proto.Clone(status).(*mesos.TaskStatus)
			stored.Data = nil
			n.Statuses = append(n.Statuses, stored)
			e.tasks[status.GetTaskId().GetValue()] = n
			a.checkpointExecutor(e)
		}
	}
	if fw := a.frameworks[fwID]; fw != nil && fw.shuttingDown {
		return
	}
	u := &plateaupb.StatusUpdate{FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}, Status: status}
	if e != nil {
		u.ExecutorId = e.info.GetExecutorId()
	}
	if send := a.updates.add(u, now); send != nil {
		a.forward(send)
	}
}

// forward sends an update to the master with the task's latest state.
func (a *Agent) forward(u *plateaupb.StatusUpdate) {
	fwID, taskID := u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()
	msg := proto.Clone(u).(*plateaupb.StatusUpdate)
	if e := a.executorOf(fwID, taskID); e != nil {
		msg.LatestState = e.tasks[taskID].State
	}
	a.send(&plateaupb.AgentMessage{Message: &plateaupb.AgentMessage_StatusUpdate{StatusUpdate: msg}})
}

// acknowledgement handles a framework's acknowledgement of an update.
func (a *Agent) acknowledgement(ack *plateaupb.StatusUpdateAcknowledgement) {
	fwID, taskID := ack.GetFrameworkId().GetValue(), ack.GetTaskId().GetValue()
	next, ok := a.updates.ack(fwID, taskID, ack.GetUuid(), time.Now())
	if !ok {
		a.log.Debug("ignoring unexpected acknowledgement", "framework", fwID, "task", taskID)
		return
	}
	if e := a.executorOf(fwID, taskID); e != nil {
		e.send(&executor.Event{Type: executor.Event_ACKNOWLEDGED.Enum(), Acknowledged: &executor.Event_Acknowledged{
			TaskId: ack.GetTaskId(), Uuid: ack.GetUuid()}})
	}
	if next != nil {
		a.forward(next)
		return
	}
	// All of the task's updates are acknowledged: a terminal task is done.
	e := a.executorOf(fwID, taskID)
	if e == nil {
		return
	}
	if t := e.tasks[taskID]; t != nil && taskstate.IsTerminal(t.GetState()) {
		delete(e.tasks, taskID)
		e.completed = appendBounded(e.completed, t)
	}
	if e.terminated {
		a.maybeRemoveExecutor(e)
	}
}

func appendBounded[T any](s []T, v T) []T {
	s = append(s, v)
	if len(s) > maxCompleted {
		s = s[1:]
	}
	return s
}

// killTask kills a task: a task its executor has not received yet is
// killed here; otherwise the executor is asked to.
func (a *Agent) killTask(k *plateaupb.KillTask) {
	fwID, taskID := k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue()
	e := a.executorOf(fwID, taskID)
	if e == nil {
		state := mesos.TaskState_TASK_LOST
		if fw := a.frameworks[fwID]; fw != nil && hasCapability(fw.info, mesos.FrameworkInfo_Capability_PARTITION_AWARE) {
			state = mesos.TaskState_TASK_DROPPED
		}
		a.statusUpdate(fwID, nil, &mesos.TaskStatus{TaskId: k.GetTaskId(), State: state.Enum(),
			Source: mesos.TaskStatus_SOURCE_AGENT.Enum(), Reason: mesos.TaskStatus_REASON_TASK_UNKNOWN.Enum(),
			Message: proto.String("Cannot kill an unknown task")})
		return
	}
	for i, t := range e.queued {
		if t.GetTaskId().GetValue() == taskID {
			e.queued = append(e.queued[:i], e.queued[i+1:]...)
			a.agentUpdate(fwID, e, t, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, "Killed before delivery to the executor")
			if e.command {
				a.shutdownExecutor(e)
			}
			return
		}
	}
	for i, g := range e.queuedGroup {
		for _, t := range g.GetTasks() {
			if t.GetTaskId().GetValue() == taskID {
				// Killing one task of a group kills the group.
				e.queuedGroup = append(e.queuedGroup[:i], e.queuedGroup[i+1:]...)
				for _, gt := range g.GetTasks() {
					a.agentUpdate(fwID, e, gt, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, "Killed before delivery to the executor")
				}
				return
			}
		}
	}
	if t := e.tasks[taskID]; t != nil && taskstate.IsTerminal(t.GetState()) {
		return
	}
	e.send(&executor.Event{Type: executor.Event_KILL.Enum(), Kill: &executor.Event_Kill{TaskId: k.GetTaskId(), KillPolicy: k.GetKillPolicy()}})
}

// shutdownExecutor asks an executor to shut down and kills its container
// after the grace period.
func (a *Agent) shutdownExecutor(e *executorRun) {
	if e.shuttingDown || e.terminated {
		return
	}
	e.shuttingDown = true
	if e.container == nil {
		return // not started: fetched() finishes it
	}
	if e.stream == nil {
		_ = e.container.Signal(syscall.SIGKILL)
		return
	}
	e.send(&executor.Event{Type: executor.Event_SHUTDOWN.Enum()})
	e.killTimer = a.after(a.cfg.ExecutorShutdownGracePeriod, func() {
		if !e.terminated {
			_ = e.container.Signal(syscall.SIGKILL)
		}
	})
}

func (a *Agent) shutdownFramework(fwID string) {
	fw := a.frameworks[fwID]
	if fw == nil {
		return
	}
	a.log.Info("shutting down framework", "framework", fwID)
	fw.shuttingDown = true
	for _, e := range fw.executors {
		a.shutdownExecutor(e)
	}
	a.updates.dropFramework(fwID)
}

// executorTerminated handles the end of an executor's container: its
// unfinished tasks fail (or are killed, if it was being shut down) and the
// master is told.
func (a *Agent) executorTerminated(e *executorRun, status int, msg string) {
	if e.terminated {
		return
	}
	e.terminated = true
	close(e.exited)
	a.killNestedOf(e.containerID)
	if e.registration != nil {
		e.registration.Stop()
	}
	if e.killTimer != nil {
		e.killTimer.Stop()
	}
	if e.stream != nil {
		e.stream.Close()
		e.stream = nil
	}
	state, reason := mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED
	if e.shuttingDown {
		state, reason = mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED
	}
	if l, ok := e.limitation(); ok && l.Memory {
		state, reason, msg = mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY, l.Message
	}
	if e.diskLimitation != "" {
		state, reason, msg = mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK, e.diskLimitation
	}
	if msg == "" {
		msg = "Executor terminated"
	}
	a.failPending(e, reason, msg)
	for _, t := range e.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			a.statusUpdate(e.frameworkID, e, &mesos.TaskStatus{TaskId: t.GetTaskId(), State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_AGENT.Enum(), Reason: reason.Enum(), Message: proto.String(msg)})
		}
	}
	a.checkpointExecutor(e) // forgets it
	a.log.Info("executor terminated", "framework", e.frameworkID, "executor", e.info.GetExecutorId().GetValue(), "status", status)
	a.send(&plateaupb.AgentMessage{Message: &plateaupb.AgentMessage_ExecutorExited{ExecutorExited: &plateaupb.ExecutorExited{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(e.frameworkID)}, ExecutorId: e.info.GetExecutorId(), Status: proto.Int32(int32(status))}}})
	a.maybeRemoveExecutor(e)
}

// maybeRemoveExecutor retires a terminated executor once none of its
// tasks has updates waiting for acknowledgement.
func (a *Agent) maybeRemoveExecutor(e *executorRun) {
	for id := range e.tasks {
		if a.updates.pending(e.frameworkID, id) {
			return
		}
	}
	fw := a.frameworks[e.frameworkID]
	if fw == nil {
		return
	}
	for id, t := range e.tasks {
		e.completed = appendBounded(e.completed, t)
		delete(e.tasks, id)
	}
	delete(fw.executors, e.info.GetExecutorId().GetValue())
	fw.completedExecutors = appendBounded(fw.completedExecutors, e)
	if len(fw.executors) == 0 {
		delete(a.frameworks, e.frameworkID)
		a.completedFrameworks = appendBounded(a.completedFrameworks, fw)
	}
}

func hasCapability(info *mesos.FrameworkInfo, c mesos.FrameworkInfo_Capability_Type) bool {
	for _, cap := range info.GetCapabilities() {
		if cap.GetType() == c {
			return true
		}
	}
	return false
}
