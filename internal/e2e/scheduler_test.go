package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

func TestLaunchTaskToCompletion(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-launch"))
			offer := s.offer()
			s.call(launch(offer, commandTask("hello", offer, "echo hello from $MESOS_TASK_ID")))
			st := s.expectStates("hello", mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED)
			if st.GetSource() != mesos.SOURCE_EXECUTOR {
				t.Errorf("terminal update source %v, want SOURCE_EXECUTOR", st.GetSource())
			}
			files := &client.Files{Agent: c.Agents[0].Addr()}
			out, _, err := files.Read(context.Background(), client.SandboxPath(s.id, "hello")+"/stdout", 0, 4096)
			if err != nil || strings.TrimSpace(string(out)) != "hello from hello" {
				t.Fatalf("sandbox stdout = %q, %v; want the task's output", out, err)
			}
			// The master reports the finished task in Mesos's layout.
			state := masterState(t, c.MasterAddr())
			var found bool
			for _, fw := range state.Frameworks {
				for _, task := range append(fw.Tasks, fw.CompletedTasks...) {
					if task.ID == "hello" && task.State == "TASK_FINISHED" && task.SlaveID == offer.AgentID.Value {
						found = true
					}
				}
			}
			if !found {
				t.Fatalf("TASK_FINISHED task not in /master/state: %+v", state)
			}
		})
	}
}

func TestKillTask(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			info := frameworkInfo("e2e-kill")
			info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}}
			s := subscribe(t, c.MasterAddr(), codec, info)
			offer := s.offer()
			s.call(launch(offer, commandTask("sleeper", offer, "sleep 1000")))
			s.expectStates("sleeper", mesos.TASK_STARTING, mesos.TASK_RUNNING)
			s.call(calls.Kill("sleeper", offer.AgentID.Value))
			st := s.expectStates("sleeper", mesos.TASK_KILLING, mesos.TASK_KILLED)
			if !strings.Contains(st.GetMessage(), "signal") {
				t.Errorf("TASK_KILLED message %q does not say how the command ended", st.GetMessage())
			}
		})
	}
}

func TestFailedCommandReportsExitStatus(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-fail"))
	offer := s.offer()
	s.call(launch(offer, commandTask("failer", offer, "exit 3")))
	st := s.expectStates("failer", mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FAILED)
	if st.GetMessage() != "Command exited with status 3" {
		t.Fatalf("message %q, want Mesos's \"Command exited with status 3\"", st.GetMessage())
	}
}

func TestDeclineWithFilter(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-decline"))
			offer := s.offer()
			const refuse = 2 * time.Second
			declined := time.Now()
			s.call(calls.Decline(offer.ID).With(calls.RefuseSeconds(refuse)))
			// The agent is not offered again while the filter holds...
			quiet := time.After(refuse / 2)
		wait:
			for {
				select {
				case ev := <-s.events:
					if ev.GetType() == scheduler.Event_OFFERS {
						t.Fatalf("offered again %v after declining for %v", time.Since(declined), refuse)
					}
				case <-quiet:
					break wait
				}
			}
			// ...and is once it expires.
			s.offer()
			if waited := time.Since(declined); waited < refuse {
				t.Fatalf("offered again after %v, before the %v filter expired", waited, refuse)
			}
		})
	}
}

func TestReviveClearsFilters(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[1], frameworkInfo("e2e-revive"))
	offer := s.offer()
	s.call(calls.Decline(offer.ID).With(calls.RefuseSeconds(time.Hour)))
	s.call(calls.Revive())
	if got := s.offer(); got.AgentID != offer.AgentID {
		t.Fatalf("offer from %v after REVIVE, want %v", got.AgentID, offer.AgentID)
	}
}

func TestReconcile(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-reconcile"))
			offer := s.offer()
			s.call(launch(offer, commandTask("long", offer, "sleep 1000")))
			s.expectStates("long", mesos.TASK_STARTING, mesos.TASK_RUNNING)

			s.call(calls.Reconcile()) // implicit: every task the master knows
			st := s.update("long")
			if st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_RECONCILIATION || st.GetSource() != mesos.SOURCE_MASTER {
				t.Fatalf("implicit reconciliation gave %v %v %v", st.GetState(), st.GetReason(), st.GetSource())
			}
			s.call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"never-launched": ""})))
			st = s.update("never-launched")
			if st.GetState() != mesos.TASK_LOST || st.GetReason() != mesos.REASON_RECONCILIATION {
				t.Fatalf("explicit reconciliation of an unknown task gave %v %v, want TASK_LOST", st.GetState(), st.GetReason())
			}
		})
	}
}

func TestTeardownKillsTasks(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-teardown"))
	offer := s.offer()
	s.call(launch(offer, commandTask("doomed", offer, "sleep 1000")))
	s.expectStates("doomed", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	s.call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
	select {
	case <-s.done: // the master ends the stream
	case <-time.After(eventTimeout):
		t.Fatal("event stream still open after TEARDOWN")
	}
	waitFor(t, "the framework to be completed with its task killed", func() bool {
		state := masterState(t, c.MasterAddr())
		for _, fw := range state.CompletedFrameworks {
			for _, task := range fw.CompletedTasks {
				if fw.ID == s.id && task.ID == "doomed" && task.State == "TASK_KILLED" {
					return len(state.Frameworks) == 0
				}
			}
		}
		return false
	})
	waitFor(t, "the agent to end the task's executor", func() bool {
		return len(agentState(t, c.Agents[0].Addr()).Frameworks) == 0
	})
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type stateTask struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	SlaveID string `json:"slave_id"`
}

type stateFramework struct {
	ID             string      `json:"id"`
	Active         bool        `json:"active"`
	Tasks          []stateTask `json:"tasks"`
	CompletedTasks []stateTask `json:"completed_tasks"`
}

type stateJSON struct {
	Frameworks          []stateFramework `json:"frameworks"`
	CompletedFrameworks []stateFramework `json:"completed_frameworks"`
	Slaves              []struct {
		ID string `json:"id"`
	} `json:"slaves"`
}

func masterState(t *testing.T, addr string) stateJSON {
	t.Helper()
	var s stateJSON
	getJSON(t, "http://"+addr+"/master/state", &s)
	return s
}

func agentState(t *testing.T, addr string) stateJSON {
	t.Helper()
	var s stateJSON
	getJSON(t, "http://"+addr+"/state", &s)
	return s
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func masterStateRaw(t *testing.T, addr string) map[string]any {
	t.Helper()
	var s map[string]any
	getJSON(t, "http://"+addr+"/master/state", &s)
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}
