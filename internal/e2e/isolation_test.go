package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	agentlib "github.com/mesos/mesos-go/api/v1/lib/agent"
	agentcalls "github.com/mesos/mesos-go/api/v1/lib/agent/calls"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpagent"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/agent"
	mesospb "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
	"github.com/plateau/plateau/internal/cgrouptest"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/containerizer"
	"github.com/plateau/plateau/internal/testenv"
)

// needCgroups skips (or, under PLATEAU_TEST_STRICT, fails) where the
// machine cannot isolate with cgroups v1: CI must run these.
func needCgroups(t *testing.T) {
	t.Helper()
	cgrouptest.Lock(t)
	_, err := containerizer.NewCgroups(containerizer.Cgroups{Isolators: []string{
		containerizer.IsolatorCgroupsCPU, containerizer.IsolatorCgroupsMem, containerizer.IsolatorCgroupsPids}})
	if err == nil {
		if _, statErr := os.Stat("/sys/fs/cgroup/memory/cgroup.procs"); statErr == nil {
			return
		}
		err = fmt.Errorf("no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory")
	}
	testenv.Unavailable(t, "cgroups isolation unavailable here (needs root and cgroup v1): %v", err)
}

// isolatedCluster runs an agent with cgroups isolation under a cgroup of
// its own.
func isolatedCluster(t *testing.T, cfs bool, pids int64) (*cluster.Cluster, string) {
	root := fmt.Sprintf("plateau-test-%d", os.Getpid())
	// Registered first, so it runs after the cluster (and its containers)
	// stopped: the parent cgroups go too.
	t.Cleanup(func() {
		for _, ctl := range []string{"cpu", "cpuacct", "memory", "pids"} {
			if err := os.Remove(filepath.Join("/sys/fs/cgroup", ctl, root)); err != nil && !os.IsNotExist(err) {
				t.Errorf("removing the test's cgroup: %v", err)
			}
		}
	})
	c := cluster.Start(t, cluster.Options{Agent: func(_ int, c *agent.Config) {
		c.Isolation = "cgroups/cpu,cgroups/mem,cgroups/pids"
		c.CgroupsRoot = root
		c.CgroupsEnableCFS = cfs
		if pids > 0 {
			c.CgroupsPidsLimit = pids
		}
	}})
	return c, root
}

func TestMemoryLimitFailsTheTask(t *testing.T) {
	needCgroups(t)
	c, _ := isolatedCluster(t, false, 0)
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-oom"))
	offer := s.offer()
	task := commandTask("hog", offer, "tail /dev/zero") // grows without bound
	task.Resources = []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 64)}
	s.call(launch(offer, task))
	s.expectStates("hog", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	st := s.update("hog")
	if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LIMITATION_MEMORY ||
		!strings.Contains(st.GetMessage(), "Memory limit exceeded") {
		t.Fatalf("got %v %v %q, want TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY", st.GetState(), st.GetReason(), st.GetMessage())
	}
}

// A container's cgroups hold the shares, CFS quota and memory limit that
// its resources call for (plus the command executor's own 0.1 cpus and
// 32 MB, as Mesos gives them).
func TestCgroupLimitsFollowResources(t *testing.T) {
	needCgroups(t)
	c, root := isolatedCluster(t, true, 0)
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-cgroups"))
	offer := s.offer()
	task := commandTask("limited", offer, "sleep 1000")
	task.Resources = []mesos.Resource{scalar("cpus", 0.5), scalar("mem", 100)}
	s.call(launch(offer, task))
	s.expectStates("limited", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	container := containerOf(t, c, s.id, "limited")
	read := func(ctl, file string) int64 {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctl, root, container, file))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got, want := read("cpu", "cpu.shares"), int64(614); got != want {
		t.Errorf("cpu.shares = %d, want %d", got, want)
	}
	if got, want := read("cpu", "cpu.cfs_quota_us"), int64(60000); got != want {
		t.Errorf("cpu.cfs_quota_us = %d, want %d", got, want)
	}
	if got, want := read("memory", "memory.limit_in_bytes"), int64(132<<20); got != want {
		t.Errorf("memory.limit_in_bytes = %d, want %d", got, want)
	}
	// The task's processes are in the container's cgroup.
	procs, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", root, container, "cgroup.procs"))
	if len(strings.Fields(string(procs))) < 2 {
		t.Errorf("cgroup.procs = %q, want the executor and its task", procs)
	}
}

func TestPidsLimitStopsForkBomb(t *testing.T) {
	needCgroups(t)
	c, _ := isolatedCluster(t, false, 16)
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-pids"))
	offer := s.offer()
	s.call(launch(offer, commandTask("bomb", offer, "set -e; for i in $(seq 64); do sleep 30 & done; wait")))
	st := s.expectStates("bomb", mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FAILED)
	files := &client.Files{Agent: c.Agents[0].Addr()}
	out, _, _ := files.Read(context.Background(), client.SandboxPath(s.id, "bomb")+"/stderr", 0, 64*1024)
	if !strings.Contains(string(out), "fork") && !strings.Contains(string(out), "Resource temporarily unavailable") {
		t.Fatalf("task failed (%s) but its stderr does not show forks refused: %q", st.GetMessage(), out)
	}
}

// containerOf finds a task's container ID in the agent's /state.
func containerOf(t *testing.T, c *cluster.Cluster, frameworkID, executorID string) string {
	t.Helper()
	var state struct {
		Frameworks []struct {
			ID        string `json:"id"`
			Executors []struct {
				ID        string `json:"id"`
				Container string `json:"container"`
			} `json:"executors"`
		} `json:"frameworks"`
	}
	getJSON(t, "http://"+c.Agents[0].Addr()+"/state", &state)
	for _, f := range state.Frameworks {
		for _, e := range f.Executors {
			if f.ID == frameworkID && e.ID == executorID {
				return e.Container
			}
		}
	}
	t.Fatalf("executor %s not in the agent's state", executorID)
	return ""
}

func TestMonitorStatistics(t *testing.T) {
	needCgroups(t)
	c, _ := isolatedCluster(t, false, 0)
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-monitor"))
	offer := s.offer()
	task := commandTask("busy", offer, "while true; do :; done")
	task.Resources = []mesos.Resource{scalar("cpus", 0.5), scalar("mem", 64)}
	s.call(launch(offer, task))
	s.expectStates("busy", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	type stats struct {
		ExecutorID string `json:"executor_id"`
		Statistics struct {
			CPUsLimit    float64 `json:"cpus_limit"`
			CPUsUserTime float64 `json:"cpus_user_time_secs"`
			MemLimit     uint64  `json:"mem_limit_bytes"`
			MemRSS       uint64  `json:"mem_rss_bytes"`
			Processes    uint32  `json:"processes"`
		} `json:"statistics"`
	}
	waitFor(t, "the busy task to use CPU", func() bool {
		var got []stats
		getJSON(t, "http://"+c.Agents[0].Addr()+"/monitor/statistics", &got)
		if len(got) != 1 {
			t.Fatalf("/monitor/statistics: %+v", got)
		}
		st := got[0].Statistics
		if got[0].ExecutorID != "busy" || st.CPUsLimit != 0.6 || st.MemLimit != 96<<20 || st.MemRSS == 0 || st.Processes < 2 {
			t.Fatalf("/monitor/statistics: %+v", got)
		}
		return st.CPUsUserTime > 0
	})
}

// The agent's operator API, with mesos-go's agent client, including a
// container's usage from its cgroups.
func TestAgentOperatorAPI(t *testing.T) {
	needCgroups(t)
	c, _ := isolatedCluster(t, false, 0)
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-agent-api"))
	offer := s.offer()
	s.call(launch(offer, commandTask("watched", offer, "sleep 1000")))
	s.expectStates("watched", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	for _, codec := range encodings {
		cli := httpcli.New(httpcli.Endpoint("http://"+c.Agents[0].Addr()+"/api/v1"), httpcli.Codec(codec))
		sender := httpagent.NewSender(cli.Send)
		call := func(c *agentlib.Call) *agentlib.Response {
			resp, err := sender.Send(context.Background(), agentcalls.NonStreaming(c))
			if err != nil {
				t.Fatalf("%v: %v", c.Type, err)
			}
			defer resp.Close()
			var r agentlib.Response
			if err := resp.Decode(&r); err != nil {
				t.Fatal(err)
			}
			return &r
		}
		if !call(agentcalls.GetHealth()).GetGetHealth().Healthy {
			t.Fatal("GET_HEALTH")
		}
		tasks := call(agentcalls.GetTasks()).GetGetTasks().LaunchedTasks
		if len(tasks) != 1 || tasks[0].TaskID.Value != "watched" {
			t.Fatalf("GET_TASKS launched %v", tasks)
		}
		containers := call(agentcalls.GetContainers()).GetGetContainers().Containers
		if len(containers) != 1 || containers[0].ResourceStatistics == nil || containers[0].ResourceStatistics.GetMemLimitBytes() == 0 {
			t.Fatalf("GET_CONTAINERS %v", containers)
		}
		if info := call(agentcalls.GetAgent()).GetGetAgent().AgentInfo; info == nil || info.ID == nil || info.ID.Value != offer.AgentID.Value {
			t.Fatalf("GET_AGENT %v", info)
		}
	}
}

// With namespaces/pid, a task sees only its container's processes.
func TestPIDNamespace(t *testing.T) {
	needCgroups(t)
	c := cluster.Start(t, cluster.Options{Agent: func(_ int, c *agent.Config) {
		c.Isolation = "posix/cpu,posix/mem,namespaces/pid"
	}})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-pidns"))
	offer := s.offer()
	s.call(launch(offer, commandTask("alone", offer, "ls /proc | grep -c '^[0-9][0-9]*$'; echo pid $$")))
	s.expectStates("alone", mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED)
	files := &client.Files{Agent: c.Agents[0].Addr()}
	out, _, err := files.Read(context.Background(), client.SandboxPath(s.id, "alone")+"/stdout", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(out))
	if len(lines) < 3 {
		t.Fatalf("stdout %q", out)
	}
	n, _ := strconv.Atoi(lines[0])
	if n < 1 || n > 6 {
		t.Fatalf("the task sees %d processes in /proc, want only its container's (a handful)", n)
	}
	if pid, _ := strconv.Atoi(lines[2]); pid > 10 {
		t.Fatalf("the task's shell has pid %d, want a small pid of its own namespace", pid)
	}
}

// A nested container session enters its parent's pid namespace: it sees
// the task's processes, not the host's.
func TestNestedSessionInPIDNamespace(t *testing.T) {
	needCgroups(t)
	c := cluster.Start(t, cluster.Options{Agent: func(_ int, c *agent.Config) {
		c.Isolation = "posix/cpu,posix/mem,namespaces/pid"
	}})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-pidns-exec"))
	offer := s.offer()
	s.call(launch(offer, commandTask("host", offer, "sleep 1000")))
	s.expectStates("host", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	out := sessionOutput(t, c.Agents[0].Addr(), "ls /proc | grep -c '^[0-9][0-9]*$'")
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	if n < 2 || n > 8 {
		t.Fatalf("the session sees %d processes (%q), want its container's handful", n, out)
	}
}

// filesystem/linux: a task has a /tmp of its own, in its sandbox; the
// host's /tmp does not see what it writes there, and a nested session
// enters the same mount namespace.
func TestPrivateTmp(t *testing.T) {
	needCgroups(t)
	c := cluster.Start(t, cluster.Options{Agent: func(_ int, c *agent.Config) {
		c.Isolation = "posix/cpu,posix/mem,filesystem/linux"
	}})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-tmp"))
	offer := s.offer()
	marker := fmt.Sprintf("plateau-private-tmp-%d", time.Now().UnixNano())
	s.call(launch(offer, commandTask("tmp", offer, "echo inside > /tmp/"+marker+"; sleep 1000")))
	s.expectStates("tmp", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	sandbox := filepath.Join(c.Agents[0].WorkDir(), "slaves", offer.AgentID.Value, "frameworks", s.id, "executors", "tmp", "runs", "latest")
	waitFor(t, "the task's file in its sandbox's tmp", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "tmp", marker))
		return string(b) == "inside\n"
	})
	if _, err := os.Stat(filepath.Join("/tmp", marker)); !os.IsNotExist(err) {
		t.Fatalf("the task's /tmp file is in the host's /tmp: %v", err)
	}
	if out := sessionOutput(t, c.Agents[0].Addr(), "cat /tmp/"+marker); out != "inside\n" {
		t.Fatalf("a session in the task's container reads %q from its /tmp", out)
	}
}

// sessionOutput runs a command in a session nested in the agent's first
// container and returns its output.
func sessionOutput(t *testing.T, agentAddr, command string) string {
	t.Helper()
	ag := &client.Agent{Addr: agentAddr}
	resp, err := ag.Call(context.Background(), &agentpb.Call{Type: agentpb.Call_GET_CONTAINERS.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	id := &mesospb.ContainerID{Value: proto.String(fmt.Sprint("session-", time.Now().UnixNano())), Parent: resp.GetGetContainers().GetContainers()[0].GetContainerId()}
	session, err := ag.LaunchSession(context.Background(), id, &mesospb.CommandInfo{Value: proto.String(command)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	var out strings.Builder
	for {
		pio, err := session.Next()
		if err != nil {
			return out.String()
		}
		out.Write(pio.GetData().GetData())
	}
}
