package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

// order ranks task states: the updates of a task (not the answers to
// reconciliation, which give the master's latest view) only move forward.
var order = map[mesos.TaskState]int{
	mesos.TASK_STAGING: 0, mesos.TASK_STARTING: 1, mesos.TASK_RUNNING: 2, mesos.TASK_UNREACHABLE: 2,
	mesos.TASK_FINISHED: 3, mesos.TASK_FAILED: 3, mesos.TASK_KILLED: 3, mesos.TASK_LOST: 3, mesos.TASK_DROPPED: 3,
	mesos.TASK_GONE: 3, mesos.TASK_GONE_BY_OPERATOR: 3, mesos.TASK_ERROR: 3,
}

// A seeded, reproducible run of faults under a workload: three masters and
// two agents; tasks are launched while masters are killed and restarted,
// agents are SIGKILLed and restarted or cut off and healed, and weights are
// changed. Then
// every task launched is accounted for exactly once, its states only moved
// forward, none ran twice, and every acknowledged weight is still there.
// PLATEAU_FAULT_SEED replays a run; the seed and the faults are logged.
func TestSeededFaults(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("PLATEAU_FAULT_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d (PLATEAU_FAULT_SEED=%d replays these faults)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	h, err := cluster.StartMasters(3, t.TempDir(), 300*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(c *masterConfig) { c.AgentPingTimeout, c.MaxAgentPingTimeouts = 300*time.Millisecond, 2 })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := func() string {
		t.Helper()
		for i := range h.Addrs {
			h.Running(i) // reap a master that stopped itself
		}
		l, err := h.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h.Addrs[l]
	}

	// Each agent reaches each master through a proxy of its own, which a
	// partition cuts.
	type agentHost struct {
		dir, addr, masters string
		proxies            []*cluster.Proxy
		p                  *agentProcess
	}
	agents := []*agentHost{{dir: t.TempDir(), addr: freeAddr(t)}, {dir: t.TempDir(), addr: freeAddr(t)}}
	for _, a := range agents {
		var via []string
		for _, m := range h.Addrs {
			px, err := cluster.NewProxy(m)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(px.Close)
			a.proxies = append(a.proxies, px)
			via = append(via, px.Addr())
		}
		a.masters = strings.Join(via, ",")
		a.p = startAgentProcess(t, a.masters, a.dir, a.addr)
	}
	partition := func(a *agentHost, cut bool) {
		for _, px := range a.proxies {
			px.SetCut(cut)
		}
	}
	activeAgents := func() float64 { return cluster.Metrics(leader())["master/slaves_active"] }
	waitFor(t, "the agents to register", func() bool { return activeAgents() == 2 })

	info := frameworkInfo("e2e-faults")
	info.Checkpoint, info.FailoverTimeout = ptr(true), ptr(3600.0)
	info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}
	s := subscribe(t, leader(), encodings[0], info)
	info.ID = &mesos.FrameworkID{Value: s.id}
	s.keepOffers = true

	history := map[string][]mesos.TaskState{}
	final := map[string]mesos.TaskState{} // the latest state heard
	seen := map[string]bool{}             // updates are delivered at least once: duplicates share a uuid
	record := func(ev *scheduler.Event) {
		st := ev.GetUpdate().Status
		final[st.TaskID.Value] = st.GetState()
		if len(st.UUID) == 0 {
			// A reconciliation answer: the master's latest view, which may
			// run ahead of updates still on their way; not a transition.
			return
		}
		_ = s.tryCall(schedcalls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		if seen[string(st.UUID)] {
			return
		}
		seen[string(st.UUID)] = true
		history[st.TaskID.Value] = append(history[st.TaskID.Value], st.GetState())
	}
	// drain takes the events waiting, and subscribes again when the
	// connection to the master broke.
	drain := func() {
		for {
			select {
			case ev := <-s.events:
				if ev.GetType() == scheduler.Event_UPDATE {
					record(ev)
				} else if ev.GetType() == scheduler.Event_OFFERS {
					s.kept = append(s.kept, ev)
				}
				continue
			case <-s.done:
				// The master went away, and its offers with it.
				s = subscribe(t, leader(), encodings[0], info)
				s.keepOffers = true
				continue
			default:
			}
			return
		}
	}

	var launched []string
	weights := map[string]float64{}
	var faults []string
	downMaster, downAgent, cutAgent := -1, -1, -1
	for step := 0; step < 14; step++ {
		drain()
		switch action := rng.IntN(6); {
		case action <= 1: // launch a task on an offer, if one comes
			var offer *mesos.Offer
			for k, ev := range s.kept {
				o := ev.GetOffers().Offers[0]
				offer = &o
				s.kept = append(s.kept[:k], s.kept[k+1:]...)
				break
			}
			if offer == nil {
				_ = s.tryCall(schedcalls.Revive())
				continue
			}
			id := fmt.Sprint("task-", len(launched))
			task := commandTask(id, *offer, fmt.Sprintf("sleep %d", rng.IntN(3)))
			if s.tryCall(launch(*offer, task)) == nil {
				launched = append(launched, id)
			}
		case action == 2: // change a weight; what is acknowledged must stay
			role, w := fmt.Sprint("role-", step), float64(1+rng.IntN(9))
			if operatorSend(operator(leader(), encodings[1]), calls.UpdateWeights(mesos.WeightInfo{Role: ptr(role), Weight: w})) == nil {
				weights[role] = w
			}
		case action == 3: // a master dies, or the one that died comes back
			if downMaster >= 0 {
				faults = append(faults, fmt.Sprintf("step %d: restart master %d", step, downMaster))
				if err := h.Start(downMaster); err != nil {
					t.Fatal(err)
				}
				downMaster = -1
				continue
			}
			downMaster = rng.IntN(3)
			faults = append(faults, fmt.Sprintf("step %d: kill master %d", step, downMaster))
			h.Kill(downMaster)
		case action == 5: // an agent is cut off from the masters, or healed
			if cutAgent >= 0 {
				faults = append(faults, fmt.Sprintf("step %d: heal agent %d", step, cutAgent))
				partition(agents[cutAgent], false)
				cutAgent = -1
				continue
			}
			cutAgent = rng.IntN(2)
			faults = append(faults, fmt.Sprintf("step %d: partition agent %d", step, cutAgent))
			partition(agents[cutAgent], true)
		default: // an agent is SIGKILLed, or the one that was comes back
			if downAgent >= 0 {
				faults = append(faults, fmt.Sprintf("step %d: restart agent %d", step, downAgent))
				a := agents[downAgent]
				a.p = startAgentProcess(t, a.masters, a.dir, a.addr)
				downAgent = -1
				continue
			}
			downAgent = rng.IntN(2)
			faults = append(faults, fmt.Sprintf("step %d: SIGKILL agent %d", step, downAgent))
			agents[downAgent].p.kill()
		}
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond) // the faults' pace, from the seed
	}
	t.Logf("faults: %s", strings.Join(faults, "; "))

	// Heal everything and account for every task.
	if downMaster >= 0 {
		if err := h.Start(downMaster); err != nil {
			t.Fatal(err)
		}
	}
	if downAgent >= 0 {
		a := agents[downAgent]
		a.p = startAgentProcess(t, a.masters, a.dir, a.addr)
	}
	if cutAgent >= 0 {
		partition(agents[cutAgent], false)
	}
	waitFor(t, "both agents back", func() bool { return activeAgents() == 2 })
	waitFor(t, "every task launched to be accounted for", func() bool {
		drain()
		pending := map[string]string{}
		for _, id := range launched {
			if st, ok := final[id]; !ok || (st != mesos.TASK_FINISHED && order[st] < 3) {
				pending[id] = ""
			}
		}
		if len(pending) == 0 {
			return true
		}
		_ = s.tryCall(schedcalls.Reconcile(schedcalls.ReconcileTasks(pending)))
		deadline := time.After(time.Second)
		for {
			select {
			case ev := <-s.events:
				if ev.GetType() == scheduler.Event_UPDATE {
					record(ev)
				}
				continue
			case <-deadline:
			}
			break
		}
		return false
	})
	finished := 0
	for _, id := range launched {
		states := history[id]
		var end mesos.TaskState
		for k, st := range states {
			if order[st] == 3 {
				if end != 0 && st != end {
					t.Errorf("task %s ended twice, %v then %v: %v", id, end, st, states)
				}
				end = st
			}
			if k > 0 && order[st] < order[states[k-1]] && !(st == mesos.TASK_RUNNING && states[k-1] == mesos.TASK_UNREACHABLE) {
				t.Errorf("task %s went back from %v to %v: %v", id, states[k-1], st, states)
			}
		}
		runs := 0
		for _, a := range agents {
			dirs, _ := filepath.Glob(filepath.Join(a.dir, "slaves", "*", "frameworks", s.id, "executors", id, "runs", "*-*"))
			runs += len(dirs)
		}
		switch {
		case runs > 1:
			t.Errorf("task %s ran %d times", id, runs)
		case final[id] == mesos.TASK_FINISHED:
			finished++
			if runs != 1 {
				t.Errorf("task %s finished without running: %v", id, states)
			}
		case order[final[id]] == 3 && runs == 0:
			// Launched on an offer that a dead master had made: dropped,
			// never started, as Mesos does.
		default:
			t.Errorf("task %s ended %v after %d runs: %v", id, final[id], runs, states)
		}
	}
	got := map[string]float64{}
	for _, w := range operatorCall(t, operator(leader(), encodings[1]), calls.GetWeights()).GetGetWeights().WeightInfos {
		got[w.GetRole()] = w.Weight
	}
	for role, w := range weights {
		if got[role] != w {
			t.Errorf("acknowledged weight %s=%v lost (now %v)", role, w, got[role])
		}
	}
	t.Logf("%d tasks launched and accounted for (%d finished), %d weights kept", len(launched), finished, len(weights))
}
