package e2e

import (
	"context"
	"testing"
	"time"

	mastercalls "github.com/mesos/mesos-go/api/v1/lib/master/calls"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

// Status updates reach the framework in order, one at a time per task:
// until STARTING is acknowledged, RUNNING is held back by the agent.
func TestUpdatesWaitForAcknowledgement(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-acks"))
	offer := s.offer()
	s.call(launch(offer, commandTask("patient", offer, "sleep 1000")))
	starting := s.next(scheduler.Event_UPDATE).GetUpdate().Status
	if starting.GetState() != mesos.TASK_STARTING {
		t.Fatalf("first update %v", starting.GetState())
	}
	// The executor reports RUNNING at once; the agent must hold it.
	quiet := time.After(500 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case ev := <-s.events:
			if ev.GetType() == scheduler.Event_UPDATE {
				t.Fatalf("update %v arrived before STARTING was acknowledged", ev.GetUpdate().Status.GetState())
			}
		case <-quiet:
			waiting = false
		}
	}
	s.call(calls.Acknowledge(starting.AgentID.Value, starting.TaskID.Value, starting.UUID))
	if st := s.update("patient"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("after the acknowledgement got %v, want TASK_RUNNING", st.GetState())
	}
}

// A master that restarts (with no registry it forgets everything) gets
// the agent back with its running task; the framework re-subscribes with
// its ID and finds the task running, and can still kill it.
func TestAgentAndFrameworkReregisterAfterMasterRestart(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	info := frameworkInfo("e2e-failover")
	info.FailoverTimeout = ptr(3600.0)
	s := subscribe(t, c.MasterAddr(), encodings[1], info)
	offer := s.offer()
	s.call(launch(offer, commandTask("survivor", offer, "sleep 1000")))
	s.expectStates("survivor", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	if err := c.RestartMaster(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(eventTimeout):
		t.Fatal("the old master's event stream did not end")
	}
	waitFor(t, "the agent to re-register with its task", func() bool {
		st := masterState(t, c.MasterAddr())
		for _, fw := range st.Frameworks {
			for _, task := range fw.Tasks {
				if task.ID == "survivor" && task.State == "TASK_RUNNING" {
					return true
				}
			}
		}
		return false
	})
	info.ID = &mesos.FrameworkID{Value: s.id}
	s2 := subscribe(t, c.MasterAddr(), encodings[1], info)
	if s2.id != s.id {
		t.Fatalf("re-subscribed as %s, want %s", s2.id, s.id)
	}
	s2.call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"survivor": offer.AgentID.Value})))
	if st := s2.update("survivor"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("reconciled state %v, want TASK_RUNNING", st.GetState())
	}
	s2.call(calls.Kill("survivor", offer.AgentID.Value))
	if st := s2.terminal("survivor"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("after KILL got %v, want TASK_KILLED", st.GetState())
	}
}

// With a --work_dir, the master's registry survives a restart: weights
// set through the operator API, and frameworks (without tasks, so that
// no agent could tell the new master of them).
func TestRegistrySurvivesMasterRestart(t *testing.T) {
	dir := t.TempDir()
	c := cluster.Start(t, cluster.Options{Master: func(c *masterConfig) { c.WorkDir = dir }})
	op := operator(c.MasterAddr(), encodings[0])
	if err := mastercalls.SendNoData(context.Background(), op, mastercalls.NonStreaming(mastercalls.UpdateWeights(mesos.WeightInfo{Role: ptr("prod"), Weight: 4}))); err != nil {
		t.Fatal(err)
	}
	info := frameworkInfo("e2e-registry")
	info.FailoverTimeout = ptr(3600.0)
	s := subscribe(t, c.MasterAddr(), encodings[0], info)
	s.resp.Close()

	if err := c.RestartMaster(); err != nil {
		t.Fatal(err)
	}
	op = operator(c.MasterAddr(), encodings[0])
	weights := operatorCall(t, op, mastercalls.GetWeights()).GetGetWeights().WeightInfos
	if len(weights) != 1 || weights[0].GetRole() != "prod" || weights[0].GetWeight() != 4 {
		t.Fatalf("weights after restart: %v", weights)
	}
	fws := operatorCall(t, op, mastercalls.GetFrameworks()).GetGetFrameworks().Frameworks
	if len(fws) != 1 || fws[0].FrameworkInfo.ID.Value != s.id || fws[0].Connected {
		t.Fatalf("frameworks after restart: %v", fws)
	}
	info.ID = &mesos.FrameworkID{Value: s.id}
	if s2 := subscribe(t, c.MasterAddr(), encodings[0], info); s2.id != s.id {
		t.Fatalf("re-subscribed as %s, want %s", s2.id, s.id)
	}
}

// A scheduler that reconnects within its failover_timeout keeps its tasks;
// one that does not loses them and its framework is completed.
func TestSchedulerFailover(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	keepInfo := frameworkInfo("e2e-keeps")
	keepInfo.FailoverTimeout = ptr(60.0)
	keep := subscribe(t, c.MasterAddr(), encodings[0], keepInfo)
	offer := keep.offer()
	keep.call(launch(offer, commandTask("kept", offer, "sleep 1000")))
	keep.expectStates("kept", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	keep.resp.Close() // the scheduler goes away

	loseInfo := frameworkInfo("e2e-loses")
	loseInfo.FailoverTimeout = ptr(0.3)
	lose := subscribe(t, c.MasterAddr(), encodings[0], loseInfo)
	offer = lose.offer()
	lose.call(launch(offer, commandTask("lost", offer, "sleep 1000")))
	lose.expectStates("lost", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	lose.resp.Close()

	waitFor(t, "the framework past its failover timeout to be completed", func() bool {
		for _, fw := range masterState(t, c.MasterAddr()).CompletedFrameworks {
			if fw.ID == lose.id {
				return len(fw.CompletedTasks) == 1 && fw.CompletedTasks[0].State == "TASK_KILLED"
			}
		}
		return false
	})
	keepInfo.ID = &mesos.FrameworkID{Value: keep.id}
	back := subscribe(t, c.MasterAddr(), encodings[0], keepInfo)
	back.call(calls.Reconcile())
	if st := back.update("kept"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("after failing over, the task is %v", st.GetState())
	}
}
