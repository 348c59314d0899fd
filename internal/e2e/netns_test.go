package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/testenv"
)

// netHosts are hosts of their own on this machine: network namespaces,
// each with its own address on a bridge, whose links can be cut and
// healed. The test reaches them from the host through the bridge.
type netHosts struct {
	t      *testing.T
	prefix string
	subnet string
	n      int

	forwardRule bool

	mu    sync.Mutex
	procs map[int]*hostProc
}

type hostProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetHosts(t *testing.T, n int) *netHosts {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		testenv.Unavailable(t, "multi-host tests need root and iproute2 (network namespaces)")
	}
	id := os.Getpid() % 100000
	h := &netHosts{t: t, prefix: fmt.Sprintf("pl%d", id), subnet: fmt.Sprintf("10.213.%d", id%250), n: n, procs: map[int]*hostProc{}}
	br := "br" + h.prefix
	t.Cleanup(h.teardown)
	sh(t, "ip", "link", "add", br, "type", "bridge")
	sh(t, "ip", "addr", "add", h.subnet+".254/24", "dev", br)
	sh(t, "ip", "link", "set", br, "up")
	// Docker's FORWARD policy drops bridged traffic that netfilter sees.
	if _, err := exec.LookPath("iptables"); err == nil {
		sh(t, "iptables", "-I", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT")
		h.forwardRule = true
	}
	for i := 1; i <= n; i++ {
		ns, host, peer := h.ns(i), fmt.Sprintf("vh%s-%d", h.prefix, i), fmt.Sprintf("vn%s-%d", h.prefix, i)
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
		sh(t, "ip", "link", "set", peer, "netns", ns)
		sh(t, "ip", "link", "set", host, "master", br)
		sh(t, "ip", "link", "set", host, "up")
		sh(t, "ip", "netns", "exec", ns, "ip", "addr", "add", h.ip(i)+"/24", "dev", peer)
		sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
		sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	}
	return h
}

func (h *netHosts) ns(i int) string { return fmt.Sprintf("%s-%d", h.prefix, i) }
func (h *netHosts) ip(i int) string { return fmt.Sprintf("%s.%d", h.subnet, i) }

func (h *netHosts) teardown() {
	h.mu.Lock()
	for i := range h.procs {
		h.killLocked(i)
	}
	h.mu.Unlock()
	for i := 1; i <= h.n; i++ {
		// What the hosts' processes started lives on after them (an
		// executor outlives its agent): kill whatever is left.
		out, _ := exec.Command("ip", "netns", "pids", h.ns(i)).Output()
		for _, field := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(field); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = exec.Command("ip", "netns", "del", h.ns(i)).Run()
	}
	if h.forwardRule {
		br := "br" + h.prefix
		_ = exec.Command("iptables", "-D", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT").Run()
	}
	_ = exec.Command("ip", "link", "del", "br"+h.prefix).Run()
}

// start runs this test binary on host i (as plateau-master or
// plateau-agent).
func (h *netHosts) start(i int, args ...string) {
	h.t.Helper()
	self, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns(i), self}, args...)...)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "PLATEAU_TEST_ROLE=executor")
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.procs[i] = &hostProc{cmd: cmd, log: log}
	h.mu.Unlock()
	h.t.Cleanup(func() {
		if h.t.Failed() {
			h.t.Logf("host %d (%s):\n%s", i, strings.Join(args, " "), log.String())
		}
	})
}

// kill SIGKILLs what runs on host i.
func (h *netHosts) kill(i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.killLocked(i)
}

func (h *netHosts) killLocked(i int) {
	p := h.procs[i]
	if p == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// cut and heal host i's link to the others.
func (h *netHosts) cut(i int) {
	sh(h.t, "ip", "link", "set", fmt.Sprintf("vh%s-%d", h.prefix, i), "down")
}
func (h *netHosts) heal(i int) {
	sh(h.t, "ip", "link", "set", fmt.Sprintf("vh%s-%d", h.prefix, i), "up")
}

// Masters and an agent on hosts of their own: the leader is killed under
// a running task, the agent is cut off and healed, the agent is SIGKILLed
// and restarted, the leader's host is cut off, and every master is
// restarted at once. The task runs throughout, nothing acknowledged is
// lost.
func TestMultiHostFailures(t *testing.T) {
	h := newNetHosts(t, 4)
	dir := t.TempDir()
	masters := []int{1, 2, 3}
	var addrs []string
	for _, i := range masters {
		addrs = append(addrs, h.ip(i)+":5050")
	}
	peers := strings.Join(addrs, ",")
	startMaster := func(i int) {
		h.start(i, "plateau-master", "--ip", h.ip(i), "--port", "5050", "--work_dir", filepath.Join(dir, fmt.Sprint("master-", i)),
			"--peers", peers, "--quorum", "2", "--raft_election_timeout", "300ms",
			"--agent_ping_timeout", "500ms", "--max_agent_ping_timeouts", "2", "--allocation_interval", "100ms")
	}
	for _, i := range masters {
		startMaster(i)
	}
	leader := func() int {
		t.Helper()
		found := 0
		waitFor(t, "one leading master", func() bool {
			for _, i := range masters {
				if cluster.Metrics(h.ip(i) + ":5050")["master/elected"] == 1 {
					found = i
					return true
				}
			}
			return false
		})
		return found
	}
	l := leader()
	startAgent := func() {
		h.start(4, "plateau-agent", "--master", peers, "--ip", h.ip(4), "--port", "5051", "--work_dir", filepath.Join(dir, "agent"),
			"--isolation", "posix/cpu,posix/mem", "--resources", "cpus:2;mem:1024;disk:1024", "--registration_backoff_factor", "100ms")
	}
	startAgent()
	agentsOn := func(i int) float64 { return cluster.Metrics(h.ip(i) + ":5050")["master/slaves_active"] }
	waitFor(t, "the agent to register", func() bool { return agentsOn(l) == 1 })

	mustSend(t, operator(h.ip(l)+":5050", encodings[1]), calls.UpdateWeights(mesos.WeightInfo{Role: ptr("prod"), Weight: 4}))
	info := frameworkInfo("e2e-multihost")
	info.Checkpoint, info.FailoverTimeout = ptr(true), ptr(3600.0)
	info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}
	s := subscribe(t, h.ip(l)+":5050", encodings[0], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("steady", offer, "sleep 1000")))
	s.expectStates("steady", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	info.ID = &mesos.FrameworkID{Value: s.id}
	running := func(s *sched) {
		t.Helper()
		waitFor(t, "the task to be reported running", func() bool {
			s.call(schedcalls.Reconcile(schedcalls.ReconcileTasks(map[string]string{"steady": offer.AgentID.Value})))
			st := s.update("steady")
			return st.GetState() == mesos.TASK_RUNNING
		})
	}

	// 1. The leader's process dies.
	h.kill(l)
	masters = without(masters, l)
	nl := leader()
	waitFor(t, "the agent to register with the new leader", func() bool { return agentsOn(nl) == 1 })
	s = subscribe(t, h.ip(nl)+":5050", encodings[0], info)
	running(s)
	startMaster(l)
	masters = append(masters, l)

	// 2. The agent's host is cut off: its task is unreachable; healed, it
	// is back and running.
	h.cut(4)
	for {
		ev := s.next(scheduler.Event_UPDATE)
		st := ev.GetUpdate().Status
		if len(st.UUID) > 0 {
			s.call(schedcalls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
		if st.TaskID.Value == "steady" && st.GetState() == mesos.TASK_UNREACHABLE {
			break
		}
	}
	h.heal(4)
	waitFor(t, "the agent back after the partition", func() bool { return agentsOn(leader()) == 1 })
	running(s)

	// 3. The agent is SIGKILLed and restarted: its checkpointed task
	// lives on.
	h.kill(4)
	startAgent()
	waitFor(t, "the restarted agent to register", func() bool { return agentsOn(leader()) == 1 })
	running(s)

	// 4. The leader's host is cut off: the two others elect a leader and
	// the agent follows; the old leader, alone, stops leading (and stops,
	// as Mesos's masters do); healed and restarted, it joins as a standby.
	l = leader()
	h.cut(l)
	masters = without(masters, l)
	nl = leader()
	waitFor(t, "the agent to follow the leader elected across the partition", func() bool { return agentsOn(nl) == 1 })
	s = subscribe(t, h.ip(nl)+":5050", encodings[0], info)
	running(s)
	h.heal(l)
	h.kill(l)
	startMaster(l)
	masters = append(masters, l)

	// 5. Every master restarts at once.
	for _, i := range masters {
		h.kill(i)
	}
	for _, i := range masters {
		startMaster(i)
	}
	l = leader()
	waitFor(t, "the agent to register after every master restarted", func() bool { return agentsOn(l) == 1 })
	s = subscribe(t, h.ip(l)+":5050", encodings[0], info)
	running(s)
	weights := operatorCall(t, operator(h.ip(l)+":5050", encodings[1]), calls.GetWeights()).GetGetWeights().WeightInfos
	found := false
	for _, w := range weights {
		found = found || (w.GetRole() == "prod" && w.Weight == 4)
	}
	if !found {
		t.Fatalf("an acknowledged weight was lost: %v", weights)
	}
}

func without(list []int, x int) []int {
	var out []int
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
