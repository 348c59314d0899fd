package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/taskstate"
)

// Checkpointing: for frameworks with checkpoint=true the agent keeps, in
// work_dir/meta, its own identity and each running executor (its process,
// sandbox and tasks). After a restart (--recover=reconnect) it takes them
// back: the executors, which keep running and retry their subscription,
// reconnect and resend what was not acknowledged.

func (a *Agent) metaDir() string { return filepath.Join(a.cfg.WorkDir, "meta") }

func (a *Agent) executorCheckpointPath(fwID, execID string) string {
	return filepath.Join(a.metaDir(), "executors", fwID, execID+".pb")
}

// writeCheckpoint writes a message atomically (write, then rename).
func writeCheckpoint(path string, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// checkpointAgent records the agent's identity. Runs on the loop.
func (a *Agent) checkpointAgent() {
	if err := writeCheckpoint(filepath.Join(a.metaDir(), "agent.pb"), &plateaupb.AgentCheckpoint{AgentInfo: a.info}); err != nil {
		a.log.Error("checkpointing the agent", "err", err)
	}
}

// checkpointExecutor records an executor of a checkpointing framework,
// or forgets it once it has terminated. Runs on the loop.
func (a *Agent) checkpointExecutor(e *executorRun) {
	fw := a.frameworks[e.frameworkID]
	if fw == nil || !fw.info.GetCheckpoint() || e.container == nil {
		return
	}
	path := a.executorCheckpointPath(e.frameworkID, e.info.GetExecutorId().GetValue())
	if e.terminated {
		_ = os.Remove(path)
		return
	}
	cp := &plateaupb.ExecutorCheckpoint{
		FrameworkInfo: fw.info, ExecutorInfo: e.info, ContainerId: proto.String(e.containerID),
		Directory: proto.String(e.directory), Pid: proto.Int32(int32(e.container.Pid())), Command: proto.Bool(e.command),
	}
	for _, t := range e.tasks {
		cp.Tasks = append(cp.Tasks, t)
	}
	if err := writeCheckpoint(path, cp); err != nil {
		a.log.Error("checkpointing an executor", "executor", e.info.GetExecutorId().GetValue(), "err", err)
	}
}

// recoverState reads the checkpoints before the agent starts. With
// reconnect it keeps the agent's ID (when its resources and attributes
// are unchanged, as Mesos requires) and takes back the live executors;
// with cleanup it kills them and starts afresh.
func (a *Agent) recoverState(mode string) error {
	b, err := os.ReadFile(filepath.Join(a.metaDir(), "agent.pb"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: reading checkpoint: %w", err)
	}
	var cp plateaupb.AgentCheckpoint
	if err := proto.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("agent: corrupt checkpoint %s: %w", filepath.Join(a.metaDir(), "agent.pb"), err)
	}
	executors, _ := filepath.Glob(filepath.Join(a.metaDir(), "executors", "*", "*.pb"))
	if mode == "cleanup" {
		for _, path := range executors {
			if ec, err := readExecutorCheckpoint(path); err == nil && alive(int(ec.GetPid())) {
				_ = syscall.Kill(-int(ec.GetPid()), syscall.SIGKILL)
			}
		}
		return os.RemoveAll(a.metaDir())
	}
	old := cp.GetAgentInfo()
	if !resources.Resources(old.GetResources()).Equal(a.info.GetResources()) || !proto.Equal(&mesos.AgentInfo{Attributes: old.GetAttributes()}, &mesos.AgentInfo{Attributes: a.info.GetAttributes()}) {
		a.log.Warn("resources or attributes changed since the last run: registering as a new agent; old executors are killed")
		return a.recoverState("cleanup")
	}
	a.info.Id = old.GetId()
	for _, path := range executors {
		ec, err := readExecutorCheckpoint(path)
		if err != nil {
			a.log.Warn("skipping a corrupt executor checkpoint", "path", path, "err", err)
			continue
		}
		a.recoverExecutor(ec)
	}
	return nil
}

func readExecutorCheckpoint(path string) (*plateaupb.ExecutorCheckpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ec := &plateaupb.ExecutorCheckpoint{}
	return ec, proto.Unmarshal(b, ec)
}

// recoverExecutor takes back a checkpointed executor. A dead one is
// reported terminated once the agent is registered again.
func (a *Agent) recoverExecutor(ec *plateaupb.ExecutorCheckpoint) {
	fwID := ec.GetFrameworkInfo().GetId().GetValue()
	fw := a.frameworks[fwID]
	if fw == nil {
		fw = &framework{info: ec.GetFrameworkInfo(), executors: map[string]*executorRun{}}
		a.frameworks[fwID] = fw
	}
	e := &executorRun{
		info: ec.GetExecutorInfo(), frameworkID: fwID, containerID: ec.GetContainerId(), directory: ec.GetDirectory(),
		command: ec.GetCommand(), tasks: map[string]*mesos.Task{}, exited: make(chan struct{}),
	}
	for _, t := range ec.GetTasks() {
		e.tasks[t.GetTaskId().GetValue()] = t
	}
	fw.executors[e.info.GetExecutorId().GetValue()] = e
	a.files.Attach(e.directory, e.directory)
	a.files.Attach(fmt.Sprintf("/frameworks/%s/executors/%s/runs/latest", fwID, e.info.GetExecutorId().GetValue()), e.directory)
	pid := int(ec.GetPid())
	e.container = &recoveredProcess{pid: pid}
	running := 0
	for _, t := range e.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			running++
		}
	}
	a.log.Info("recovered executor", "framework", fwID, "executor", e.info.GetExecutorId().GetValue(), "pid", pid, "alive", alive(pid), "tasks", running)
	go func() {
		status, _ := e.container.Wait()
		a.post(func() { a.executorTerminated(e, status, "") })
	}()
}

// alive reports whether a process exists.
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// recoveredProcess is an executor the agent did not start in this run: it
// is not the agent's child, so its end is noticed by polling.
type recoveredProcess struct{ pid int }

func (p *recoveredProcess) Pid() int { return p.pid }

func (p *recoveredProcess) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Wait polls until the process is gone; its exit status cannot be known.
func (p *recoveredProcess) Wait() (int, error) {
	for alive(p.pid) && !zombie(p.pid) {
		time.Sleep(100 * time.Millisecond)
	}
	return 0, nil
}

// zombie reports whether a process has exited but not been reaped (its
// parent, the previous agent, is gone and init will reap it).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] == 'Z'
		}
	}
	return false
}
