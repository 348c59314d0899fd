package e2e

import (
	"context"
	"testing"
	"time"

	masterpb "github.com/mesos/mesos-go/api/v1/lib/master"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mastercalls "github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

func partitionCluster(t *testing.T) *cluster.Cluster {
	return cluster.Start(t, cluster.Options{Partitionable: true, Master: func(c *masterConfig) {
		c.AgentPingTimeout = 100 * time.Millisecond
		c.MaxAgentPingTimeouts = 2
	}})
}

// Cut one agent off: PARTITION_AWARE frameworks see TASK_UNREACHABLE and
// others TASK_LOST; heal it: the aware framework's task is back, the
// other's is shut down on the agent.
func TestAgentPartitionAndHeal(t *testing.T) {
	c := partitionCluster(t)
	awareInfo := frameworkInfo("e2e-aware")
	awareInfo.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}
	aware := subscribe(t, c.MasterAddr(), encodings[0], awareInfo)
	offer := aware.offer()
	aware.call(launch(offer, commandTask("aware-task", offer, "sleep 1000")))
	aware.expectStates("aware-task", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	plain := subscribe(t, c.MasterAddr(), encodings[1], frameworkInfo("e2e-plain"))
	offer = plain.offer()
	plain.call(launch(offer, commandTask("plain-task", offer, "sleep 1000")))
	plain.expectStates("plain-task", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	c.Partition(0)
	st := aware.update("aware-task")
	if st.GetState() != mesos.TASK_UNREACHABLE || st.GetReason() != mesos.REASON_AGENT_REMOVED || st.UnreachableTime == nil {
		t.Fatalf("partition-aware framework got %v %v", st.GetState(), st.GetReason())
	}
	if st := plain.update("plain-task"); st.GetState() != mesos.TASK_LOST {
		t.Fatalf("other framework got %v, want TASK_LOST", st.GetState())
	}
	aware.call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"aware-task": offer.AgentID.Value})))
	if st := aware.update("aware-task"); st.GetState() != mesos.TASK_UNREACHABLE {
		t.Fatalf("reconciling an unreachable task gave %v", st.GetState())
	}

	c.Heal(0)
	if st := aware.update("aware-task"); st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_AGENT_REREGISTERED {
		t.Fatalf("after healing the aware framework got %v %v, want TASK_RUNNING", st.GetState(), st.GetReason())
	}
	waitFor(t, "the lost task to be shut down on the agent", func() bool {
		var state struct {
			Frameworks []struct {
				ID string `json:"id"`
			} `json:"frameworks"`
		}
		getJSON(t, "http://"+c.Agents[0].Addr()+"/state", &state)
		for _, f := range state.Frameworks {
			if f.ID == plain.id {
				return false
			}
		}
		return true
	})
	// The aware framework can still kill its task.
	aware.call(calls.Kill("aware-task", offer.AgentID.Value))
	if st := aware.update("aware-task"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("after KILL: %v", st.GetState())
	}
}

// MARK_AGENT_GONE ends an agent for good: its tasks are
// TASK_GONE_BY_OPERATOR and the agent stops.
func TestMarkAgentGone(t *testing.T) {
	c := partitionCluster(t)
	info := frameworkInfo("e2e-gone")
	info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}
	s := subscribe(t, c.MasterAddr(), encodings[0], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("doomed", offer, "sleep 1000")))
	s.expectStates("doomed", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	op := operator(c.MasterAddr(), encodings[0])
	if err := mastercalls.SendNoData(context.Background(), op, mastercalls.NonStreaming(mastercalls.MarkAgentGone(offer.AgentID))); err != nil {
		t.Fatal(err)
	}
	st := s.update("doomed")
	if st.GetState() != mesos.TASK_GONE_BY_OPERATOR || st.GetReason() != mesos.REASON_AGENT_REMOVED_BY_OPERATOR {
		t.Fatalf("got %v %v", st.GetState(), st.GetReason())
	}
	if f := s.next(scheduler.Event_FAILURE).GetFailure(); f.GetAgentID().Value != offer.AgentID.Value {
		t.Fatalf("FAILURE for %v", f.GetAgentID())
	}
	if got := operatorCall(t, op, mastercalls.GetAgents()).GetGetAgents().Agents; len(got) != 0 {
		t.Fatalf("agents after MARK_AGENT_GONE: %v", got)
	}
}

func TestDeactivateReactivateDrain(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-drain"))
	offer := s.offer()
	s.call(launch(offer, commandTask("drained", offer, "sleep 1000")))
	s.expectStates("drained", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	op := operator(c.MasterAddr(), encodings[1])
	send := func(call *mastercallsCall) {
		t.Helper()
		if err := mastercalls.SendNoData(context.Background(), op, mastercalls.NonStreaming(call)); err != nil {
			t.Fatalf("%v: %v", call.Type, err)
		}
	}
	send(mastercalls.DeactivateAgent(offer.AgentID))
	if agents := operatorCall(t, op, mastercalls.GetAgents()).GetGetAgents().Agents; !agents[0].GetDeactivated() {
		t.Fatal("agent not deactivated")
	}
	s.call(calls.Revive())
	s.noEvent(scheduler.Event_OFFERS, 300*time.Millisecond)
	send(mastercalls.ReactivateAgent(offer.AgentID))
	s.offer()

	send(mastercalls.DrainAgent(offer.AgentID))
	if st := s.update("drained"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("draining left the task %v", st.GetState())
	}
	waitFor(t, "the agent to be DRAINED", func() bool {
		a := operatorCall(t, op, mastercalls.GetAgents()).GetGetAgents().Agents[0]
		return a.GetDrainInfo().GetState() == mesos.DrainState_DRAINED && a.GetDeactivated()
	})
}

type mastercallsCall = masterpb.Call
