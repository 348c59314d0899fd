package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

// agentProcess runs an agent as a separate process (this test binary),
// so that it can be SIGKILLed.
type agentProcess struct {
	t                     *testing.T
	master, workDir, addr string
	cmd                   *exec.Cmd
	log                   bytes.Buffer
}

func startAgentProcess(t *testing.T, master, workDir, addr string) *agentProcess {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p := &agentProcess{t: t, master: master, workDir: workDir, addr: addr}
	p.cmd = exec.Command(self, "plateau-agent", "--master", master, "--work_dir", workDir, "--ip", host, "--port", port,
		"--isolation", "posix/cpu,posix/mem", "--resources", "cpus:4;mem:4096;disk:4096;ports:[31000-31099]",
		"--registration_backoff_factor", "100ms")
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("log of the agent process at %s:\n%s", addr, p.log.String())
		}
	})
	return p
}

func (p *agentProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SIGKILL the agent of a checkpointing framework, restart it: the same task
// processes keep running, the framework reconciles them as TASK_RUNNING,
// and a task that finished while the agent was down is reported
// TASK_FINISHED exactly once.
func TestAgentRecoveryAfterSIGKILL(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Agents: -1})
	workDir, addr := t.TempDir(), freeAddr(t)
	agent := startAgentProcess(t, c.MasterAddr(), workDir, addr)
	if err := c.WaitForAgents(1, 20*time.Second); err != nil {
		t.Fatal(err, agent.log.String())
	}
	t.Cleanup(func() { // the executors' own logs go to their sandboxes' stderr
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(workDir, "slaves", "*", "frameworks", "*", "executors", "*", "runs", "latest", "stderr"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
	})
	info := frameworkInfo("e2e-recovery")
	info.Checkpoint = ptr(true)
	info.FailoverTimeout = ptr(3600.0)
	s := subscribe(t, c.MasterAddr(), encodings[0], info)
	offer := s.offer()
	marker := filepath.Join(t.TempDir(), "agent-down")
	long := commandTask("long", offer, "echo $$ > pid; exec sleep 1000")
	short := commandTask("short", offer, fmt.Sprintf("while [ ! -f %s ]; do sleep 0.05; done; echo done", marker))
	s.call(launch(offer, long, short))
	s.reach(map[string]mesos.TaskState{"long": mesos.TASK_RUNNING, "short": mesos.TASK_RUNNING})
	pidFile := filepath.Join(workDir, "slaves", offer.AgentID.Value, "frameworks", s.id, "executors", "long", "runs", "latest", "pid")
	var pid int
	waitFor(t, "the long task's pid", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})

	agent.kill()
	// The short task ends while its agent is down.
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	shortOut := filepath.Join(workDir, "slaves", offer.AgentID.Value, "frameworks", s.id, "executors", "short", "runs", "latest", "stdout")
	waitFor(t, "the short task to finish while the agent is down", func() bool {
		b, _ := os.ReadFile(shortOut)
		return strings.Contains(string(b), "done")
	})

	agent = startAgentProcess(t, c.MasterAddr(), workDir, addr)
	// Updates are delivered at least once (an executor may resend one
	// that was acknowledged while the agent was dying), and in order.
	for {
		st := s.update("short")
		if st.GetState() == mesos.TASK_FINISHED {
			break
		}
		if st.GetState() != mesos.TASK_RUNNING {
			t.Fatalf("short task: %v (%s)", st.GetState(), st.GetMessage())
		}
	}
	s.call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"long": offer.AgentID.Value})))
	if st := s.update("long"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("long task after recovery: %v", st.GetState())
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("the long task's process %d did not survive the agent's restart", pid)
	}
	// TASK_FINISHED came once: nothing more about the short task.
	quiet := time.After(time.Second)
	for done := false; !done; {
		select {
		case ev := <-s.events:
			if ev.GetType() == scheduler.Event_UPDATE && ev.GetUpdate().Status.TaskID.Value == "short" {
				t.Fatalf("a second update for the short task: %v (source %v, reason %v, %q)\n%s", ev.GetUpdate().Status.GetState(), ev.GetUpdate().Status.GetSource(), ev.GetUpdate().Status.GetReason(), ev.GetUpdate().Status.GetMessage(), agent.log.String())
			}
		case <-quiet:
			done = true
		}
	}
	// The recovered executor still obeys: KILL ends the long task.
	s.call(calls.Kill("long", offer.AgentID.Value))
	if st := s.terminal("long"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("KILL after recovery: %v\n%s", st.GetState(), agent.log.String())
	}
}
