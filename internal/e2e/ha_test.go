package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/agent"
	"github.com/plateau/plateau/internal/cluster"
)

// Three masters replicate their registry and elect one leader; the others
// redirect to it. The leader is killed under a running task: a new leader
// is elected, the agent registers with it with its task, the framework
// subscribes again and finds the task running, and what the old leader
// acknowledged (a weight) is still there.
func TestMasterFailover(t *testing.T) {
	out := io.Discard
	if testing.Verbose() {
		out = os.Stderr
	}
	h, err := cluster.StartMasters(3, t.TempDir(), 300*time.Millisecond, slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := h.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	standby := h.Addrs[(l+1)%3]

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post("http://"+standby+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_HEALTH"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+h.Addrs[l]+"/api/v1" {
		t.Fatalf("a standby answered %d, Location %q; want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), h.Addrs[l])
	}

	// The web UI too: a browser at a standby is sent to the leader.
	resp, err = noFollow.Get("http://" + standby + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+h.Addrs[l]+"/" {
		t.Fatalf("a standby's web UI answered %d, Location %q; want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), h.Addrs[l])
	}

	var state struct {
		Leader string `json:"leader"`
	}
	getJSON(t, "http://"+standby+"/master/state", &state)
	if state.Leader != "master@"+h.Addrs[l] {
		t.Fatalf("a standby's /master/state says the leader is %q, want master@%s", state.Leader, h.Addrs[l])
	}

	acfg := agent.DefaultConfig()
	acfg.Master = strings.Join(h.Addrs, ",")
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

	op := operator(h.Addrs[l], encodings[1])
	mustSend(t, op, calls.UpdateWeights(mesos.WeightInfo{Role: ptr("prod"), Weight: 3}))
	info := frameworkInfo("e2e-ha")
	info.Checkpoint, info.FailoverTimeout = ptr(true), ptr(3600.0)
	s := subscribe(t, h.Addrs[l], encodings[0], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("survivor", offer, "sleep 1000")))
	s.expectStates("survivor", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	killed := time.Now()
	h.Kill(l)
	nl, err := h.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader after %v", time.Since(killed))
	waitFor(t, "the agent to register with the new leader", func() bool {
		var slaves struct {
			Slaves []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
		}
		getJSON(t, "http://"+h.Addrs[nl]+"/master/slaves", &slaves)
		return len(slaves.Slaves) == 1 && slaves.Slaves[0].Active
	})
	t.Logf("agent re-registered after %v", time.Since(killed))

	info.ID = &mesos.FrameworkID{Value: s.id}
	s2 := subscribe(t, h.Addrs[nl], encodings[0], info)
	s2.call(schedcalls.Reconcile(schedcalls.ReconcileTasks(map[string]string{"survivor": offer.AgentID.Value})))
	if st := s2.update("survivor"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("the task after the master failover: %v", st.GetState())
	}
	weights := operatorCall(t, operator(h.Addrs[nl], encodings[1]), calls.GetWeights()).GetGetWeights().WeightInfos
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
