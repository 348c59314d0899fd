package e2e

import (
	"context"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

func defaultExecutor(id string) mesos.ExecutorInfo {
	return mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: id},
		Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}}
}

// A task group launched with mesos-go runs two tasks that share the
// sandbox.
func TestTaskGroupSharesSandbox(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-group"))
			offer := s.offer()
			writer := commandTask("writer", offer, "echo from-writer > shared.txt")
			reader := commandTask("reader", offer, "while [ ! -f shared.txt ]; do sleep 0.05; done; cat shared.txt")
			s.call(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(defaultExecutor("group-executor"), writer, reader)}.WithOffers(offer.ID)))
			finished := map[string]bool{}
			for len(finished) < 2 {
				st := s.next(eventUpdate).GetUpdate().Status
				if len(st.UUID) > 0 {
					s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
				}
				switch st.GetState() {
				case mesos.TASK_FINISHED:
					finished[st.TaskID.Value] = true
				case mesos.TASK_STARTING, mesos.TASK_RUNNING:
				default:
					t.Fatalf("task %s went %v: %s", st.TaskID.Value, st.GetState(), st.GetMessage())
				}
			}
			files := &client.Files{Agent: c.Agents[0].Addr()}
			out, _, err := files.Read(context.Background(), client.SandboxPath(s.id, "group-executor")+"/tasks/reader/stdout", 0, 100)
			if err != nil || strings.TrimSpace(string(out)) != "from-writer" {
				t.Fatalf("reader's stdout = %q, %v; want what the writer put in the shared sandbox", out, err)
			}
		})
	}
}

// When one task of a group fails, the others are killed.
func TestTaskGroupFailureKillsTheGroup(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-group-failure"))
	offer := s.offer()
	failing := commandTask("failing", offer, "sleep 0.2; exit 1")
	long := commandTask("long", offer, "sleep 1000")
	s.call(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(defaultExecutor("doomed-group"), failing, long)}.WithOffers(offer.ID)))
	final := map[string]mesos.TaskState{}
	for len(final) < 2 {
		st := s.next(eventUpdate).GetUpdate().Status
		if len(st.UUID) > 0 {
			s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
		if st.GetState() != mesos.TASK_STARTING && st.GetState() != mesos.TASK_RUNNING {
			final[st.TaskID.Value] = st.GetState()
		}
	}
	if final["failing"] != mesos.TASK_FAILED || final["long"] != mesos.TASK_KILLED {
		t.Fatalf("final states %v, want failing TASK_FAILED and long TASK_KILLED", final)
	}
}
