package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/client"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/master"
)

// noEvent fails if an event of type typ arrives within d.
func (s *sched) noEvent(typ scheduler.Event_Type, d time.Duration) {
	s.t.Helper()
	quiet := time.After(d)
	for {
		select {
		case ev := <-s.events:
			if ev.GetType() == typ {
				s.t.Fatalf("unexpected %v event", typ)
			}
		case <-quiet:
			return
		}
	}
}

func TestSuppressStopsOffers(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-suppress"))
	offer := s.offer()
	s.call(calls.Suppress())
	s.call(calls.Decline(offer.ID).With(calls.RefuseSeconds(0)))
	s.noEvent(scheduler.Event_OFFERS, time.Second)
	s.call(calls.Revive())
	s.offer()
}

func TestOfferTimeoutRescinds(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Master: func(c *master.Config) { c.OfferTimeout = 200 * time.Millisecond }})
	s := subscribe(t, c.MasterAddr(), encodings[1], frameworkInfo("e2e-rescind"))
	offer := s.offer()
	rescind := s.next(scheduler.Event_RESCIND).GetRescind()
	if rescind.OfferID != offer.ID {
		t.Fatalf("rescinded %v, want %v", rescind.OfferID, offer.ID)
	}
	// The rescinded offer can no longer be used.
	s.call(launch(offer, commandTask("too-late", offer, "true")))
	if st := s.update("too-late"); st.GetState() != mesos.TASK_LOST || st.GetReason() != mesos.REASON_INVALID_OFFERS {
		t.Fatalf("launch on a rescinded offer: %v %v", st.GetState(), st.GetReason())
	}
}

func TestHeartbeats(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Master: func(c *master.Config) { c.HeartbeatInterval = 100 * time.Millisecond }})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-heartbeat"))
	s.next(scheduler.Event_HEARTBEAT)
	s.next(scheduler.Event_HEARTBEAT)
}

func TestShutdownExecutor(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-shutdown"))
	offer := s.offer()
	s.call(launch(offer, commandTask("shut", offer, "sleep 1000")))
	s.expectStates("shut", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	// A command task's executor ID is its task ID, as in Mesos.
	s.call(calls.Shutdown("shut", offer.AgentID.Value))
	if st := s.update("shut"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("after SHUTDOWN got %v (%s), want TASK_KILLED", st.GetState(), st.GetMessage())
	}
	if f := s.next(scheduler.Event_FAILURE).GetFailure(); f.GetExecutorID().Value != "shut" {
		t.Fatalf("FAILURE for %v", f.GetExecutorID())
	}
}

// A task that ignores SIGTERM is killed with SIGKILL after its kill
// policy's grace period.
func TestKillPolicyGracePeriod(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-grace"))
	offer := s.offer()
	task := commandTask("stubborn", offer, "trap '' TERM; echo ready; while true; do sleep 0.05; done")
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(300 * time.Millisecond)}}
	s.call(launch(offer, task))
	s.expectStates("stubborn", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	files := &client.Files{Agent: c.Agents[0].Addr()}
	waitFor(t, "the task to ignore SIGTERM", func() bool {
		out, _, _ := files.Read(context.Background(), client.SandboxPath(s.id, "stubborn")+"/stdout", 0, 100)
		return strings.Contains(string(out), "ready")
	})
	start := time.Now()
	s.call(calls.Kill("stubborn", offer.AgentID.Value))
	st := s.update("stubborn")
	if st.GetState() != mesos.TASK_KILLED || !strings.Contains(st.GetMessage(), "killed") {
		t.Fatalf("got %v %q, want TASK_KILLED by SIGKILL", st.GetState(), st.GetMessage())
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("killed after %v, before the 300ms grace period", waited)
	}
}

func TestFetchFailureFailsTheTask(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-fetch"))
	offer := s.offer()
	task := commandTask("fetchless", offer, "true")
	task.Command.URIs = []mesos.CommandInfo_URI{{Value: "/no/such/file.tar.gz", Extract: ptr(true)}}
	s.call(launch(offer, task))
	st := s.update("fetchless")
	// Mesos 1.11 reports fetch failures as failed container launches.
	if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(st.GetMessage(), "/no/such/file.tar.gz") {
		t.Fatalf("got %v %v %q", st.GetState(), st.GetReason(), st.GetMessage())
	}
}

func TestFetchedURIsAreInTheSandbox(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-fetch-ok"))
	offer := s.offer()
	script := t.TempDir() + "/hello.sh"
	writeFile(t, script, "#!/bin/sh\necho fetched and run\n")
	task := commandTask("fetching", offer, "./hello.sh")
	task.Command.URIs = []mesos.CommandInfo_URI{{Value: script, Executable: ptr(true)}}
	s.call(launch(offer, task))
	s.expectStates("fetching", mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED)
}

func TestUpdateFramework(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	info := frameworkInfo("e2e-update")
	s := subscribe(t, c.MasterAddr(), encodings[1], info)
	s.offer()
	info.ID = &mesos.FrameworkID{Value: s.id}
	info.Name = "renamed"
	s.call(calls.UpdateFramework(*info))
	waitFor(t, "the new name in /master/state", func() bool {
		for _, fw := range masterStateRaw(t, c.MasterAddr())["frameworks"].([]any) {
			if fw.(map[string]any)["name"] == "renamed" {
				return true
			}
		}
		return false
	})
	// Changing the user is refused.
	info.User = "someone-else"
	if err := s.tryCall(calls.UpdateFramework(*info)); err == nil {
		t.Fatal("UPDATE_FRAMEWORK changing the user was accepted")
	}
}

func TestReconcileOperations(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-reconcile-ops"))
	offer := s.offer()
	s.call(calls.ReconcileOperations([]calls.ReconcileOperationRequest{
		{OperationID: "op-1", AgentID: offer.AgentID.Value},
		{OperationID: "op-2"},
	}))
	got := map[string]mesos.OperationState{}
	for len(got) < 2 {
		st := s.next(scheduler.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().Status
		got[st.OperationID.Value] = st.State
	}
	if got["op-1"] != mesos.OPERATION_DROPPED || got["op-2"] != mesos.OPERATION_UNKNOWN {
		t.Fatalf("operation states %v", got)
	}
}

// A URI with cache: true is downloaded once for two tasks.
func TestFetcherCache(t *testing.T) {
	var downloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Write([]byte("#!/bin/sh\necho cached\n"))
	}))
	defer srv.Close()
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-fetch-cache"))
	offer := s.offer()
	uri := []mesos.CommandInfo_URI{{Value: srv.URL + "/tool.sh", Executable: ptr(true), Cache: ptr(true)}}
	one, two := commandTask("one", offer, "./tool.sh"), commandTask("two", offer, "./tool.sh")
	one.Command.URIs, two.Command.URIs = uri, uri
	s.call(launch(offer, one, two))
	s.reach(map[string]mesos.TaskState{"one": mesos.TASK_FINISHED, "two": mesos.TASK_FINISHED})
	if n := downloads.Load(); n != 1 {
		t.Fatalf("the cached URI was downloaded %d times for two tasks", n)
	}
}
