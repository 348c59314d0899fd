package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/agent"
	"github.com/plateau/plateau/internal/cluster"
	masterpkg "github.com/plateau/plateau/internal/master"
)

// freePortPair finds a port p with p+2 free too (a master's HTTP port and
// its Raft port).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+2))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports")
	return 0
}

// haMasters is a group of masters in this process.
type haMasters struct {
	t       *testing.T
	addrs   []string
	cancels []context.CancelFunc
	done    []chan struct{}
}

func startHAMasters(t *testing.T, n int) *haMasters {
	h := &haMasters{t: t}
	for range n {
		h.addrs = append(h.addrs, fmt.Sprintf("127.0.0.1:%d", freePortPair(t)))
	}
	for i := range n {
		cfg := masterpkg.DefaultConfig()
		host, port, _ := net.SplitHostPort(h.addrs[i])
		cfg.IP = host
		fmt.Sscan(port, &cfg.Port)
		cfg.WorkDir = filepath.Join(t.TempDir(), fmt.Sprint("master-", i))
		cfg.Peers, cfg.Quorum = strings.Join(h.addrs, ","), n/2+1
		cfg.RaftElectionTimeout = 300 * time.Millisecond
		cfg.AllocationInterval = 100 * time.Millisecond
		out := io.Discard
		if testing.Verbose() {
			out = os.Stderr
		}
		m, err := masterpkg.New(cfg, masterpkg.WithLogger(slog.New(slog.NewTextHandler(out, nil)).With("master", i)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = m.Run(ctx) }()
		h.cancels, h.done = append(h.cancels, cancel), append(h.done, done)
	}
	t.Cleanup(func() {
		for i := range h.cancels {
			h.kill(i)
		}
	})
	return h
}

// kill stops a master as if its process died.
func (h *haMasters) kill(i int) {
	h.cancels[i]()
	<-h.done[i]
}

func elected(addr string) bool {
	resp, err := http.Get("http://" + addr + "/metrics/snapshot")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var m map[string]float64
	return json.NewDecoder(resp.Body).Decode(&m) == nil && m["master/elected"] == 1
}

// leader waits until exactly one of the masters still running leads.
func (h *haMasters) leader(alive ...int) int {
	h.t.Helper()
	var found int
	waitFor(h.t, "one leading master", func() bool {
		found = -1
		for _, i := range alive {
			if elected(h.addrs[i]) {
				if found >= 0 {
					return false
				}
				found = i
			}
		}
		return found >= 0
	})
	return found
}

// Three masters replicate their registry and elect one leader; the others
// redirect to it. The leader is killed under a running task: a new leader
// is elected, the agent registers with it with its task, the framework
// subscribes again and finds the task running, and what the old leader
// acknowledged (a weight) is still there.
func TestMasterFailover(t *testing.T) {
	h := startHAMasters(t, 3)
	all := []int{0, 1, 2}
	l := h.leader(all...)
	standby := h.addrs[(l+1)%3]

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post("http://"+standby+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_HEALTH"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+h.addrs[l]+"/api/v1" {
		t.Fatalf("a standby answered %d, Location %q; want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), h.addrs[l])
	}

	acfg := agent.DefaultConfig()
	acfg.Master = strings.Join(h.addrs, ",")
	acfg.IP, acfg.Port = "127.0.0.1", 0
	acfg.WorkDir = t.TempDir()
	acfg.Resources = "cpus:4;mem:4096;disk:4096;ports:[31000-31099]"
	acfg.Isolation = "posix/cpu,posix/mem"
	acfg.RegistrationBackoffFactor = 100 * time.Millisecond
	acfg.ExecutorCommand = cluster.ExecutorCommand(t)
	ag, err := agent.New(acfg, agent.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	go func() { defer close(agentDone); _ = ag.Run(actx) }()
	t.Cleanup(func() { acancel(); <-agentDone })

	op := operator(h.addrs[l], encodings[1])
	mustSend(t, op, calls.UpdateWeights(mesos.WeightInfo{Role: ptr("prod"), Weight: 3}))
	info := frameworkInfo("e2e-ha")
	info.Checkpoint, info.FailoverTimeout = ptr(true), ptr(3600.0)
	s := subscribe(t, h.addrs[l], encodings[0], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("survivor", offer, "sleep 1000")))
	s.expectStates("survivor", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	killed := time.Now()
	h.kill(l)
	var rest []int
	for _, i := range all {
		if i != l {
			rest = append(rest, i)
		}
	}
	nl := h.leader(rest...)
	t.Logf("new leader after %v", time.Since(killed))
	waitFor(t, "the agent to register with the new leader", func() bool {
		var slaves struct {
			Slaves []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
		}
		getJSON(t, "http://"+h.addrs[nl]+"/master/slaves", &slaves)
		return len(slaves.Slaves) == 1 && slaves.Slaves[0].Active
	})
	t.Logf("agent re-registered after %v", time.Since(killed))

	info.ID = &mesos.FrameworkID{Value: s.id}
	s2 := subscribe(t, h.addrs[nl], encodings[0], info)
	s2.call(schedcalls.Reconcile(schedcalls.ReconcileTasks(map[string]string{"survivor": offer.AgentID.Value})))
	if st := s2.update("survivor"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("the task after the master failover: %v", st.GetState())
	}
	weights := operatorCall(t, operator(h.addrs[nl], encodings[1]), calls.GetWeights()).GetGetWeights().WeightInfos
	found := false
	for _, w := range weights {
		found = found || (w.GetRole() == "prod" && w.Weight == 3)
	}
	if !found {
		t.Fatalf("the weight acknowledged by the old leader is gone: %v", weights)
	}
}

// After a master restart, an agent that does not come back within
// --agent_reregister_timeout is unreachable: reconciling its task says so.
func TestAgentReregisterTimeout(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Agents: -1, Master: func(c *masterConfig) {
		c.WorkDir = t.TempDir()
		c.AgentReregisterTimeout = 300 * time.Millisecond
	}})
	ap := startAgentProcess(t, c.MasterAddr(), t.TempDir(), freeAddr(t))
	if err := c.WaitForAgents(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	info := frameworkInfo("e2e-reregister")
	info.FailoverTimeout = ptr(3600.0)
	info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}
	s := subscribe(t, c.MasterAddr(), encodings[0], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("stranded", offer, "sleep 1000")))
	s.expectStates("stranded", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	ap.kill()
	if err := c.RestartMaster(); err != nil {
		t.Fatal(err)
	}
	info.ID = &mesos.FrameworkID{Value: s.id}
	s = subscribe(t, c.MasterAddr(), encodings[0], info)
	var state mesos.TaskState
	waitFor(t, "the task of the agent that did not come back to be unreachable", func() bool {
		s.call(schedcalls.Reconcile(schedcalls.ReconcileTasks(map[string]string{"stranded": offer.AgentID.Value})))
		st := s.update("stranded")
		state = st.GetState()
		return state == mesos.TASK_UNREACHABLE
	})
}
