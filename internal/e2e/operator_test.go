package e2e

import (
	"context"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpmaster"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/plateau/plateau/internal/cluster"
	masterpkg "github.com/plateau/plateau/internal/master"
)

func operator(addr string, codec encoding.Codec) calls.Sender {
	cli := httpcli.New(httpcli.Endpoint("http://"+addr+"/api/v1"), httpcli.Codec(codec))
	return httpmaster.NewSender(cli.Send)
}

func operatorCall(t *testing.T, s calls.Sender, c *master.Call) *master.Response {
	t.Helper()
	resp, err := s.Send(context.Background(), calls.NonStreaming(c))
	if err != nil {
		t.Fatalf("%v: %v", c.Type, err)
	}
	defer resp.Close()
	var r master.Response
	if err := resp.Decode(&r); err != nil {
		t.Fatalf("%v: decoding: %v", c.Type, err)
	}
	return &r
}

// The operator API, driven by mesos-go's operator client, in both
// encodings.
func TestOperatorAPI(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			op := operator(c.MasterAddr(), codec)

			// SUBSCRIBE first, to see the events of what follows.
			sub, err := op.Send(context.Background(), calls.NonStreaming(calls.Subscribe()))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			events := make(chan *master.Event, 100)
			go func() {
				for {
					var e master.Event
					if err := sub.Decode(&e); err != nil {
						close(events)
						return
					}
					events <- &e
				}
			}()
			nextEvent := func(want master.Event_Type) *master.Event {
				t.Helper()
				for e := range events {
					if e.GetType() == want {
						return e
					}
				}
				t.Fatalf("event stream ended before %v", want)
				return nil
			}
			if got := nextEvent(master.Event_SUBSCRIBED); len(got.GetSubscribed().GetGetState().GetGetAgents().Agents) != 1 {
				t.Fatalf("SUBSCRIBED state has no agent: %v", got)
			}

			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-operator"))
			if e := nextEvent(master.Event_FRAMEWORK_ADDED); e.GetFrameworkAdded().Framework.FrameworkInfo.ID.Value != s.id {
				t.Fatalf("FRAMEWORK_ADDED for %v", e.GetFrameworkAdded().Framework.FrameworkInfo.ID)
			}
			offer := s.offer()
			s.call(launch(offer, commandTask("watched", offer, "sleep 1000")))
			if e := nextEvent(master.Event_TASK_ADDED); e.GetTaskAdded().Task.TaskID.Value != "watched" {
				t.Fatalf("TASK_ADDED for %v", e.GetTaskAdded().Task.TaskID)
			}
			s.expectStates("watched", mesos.TASK_STARTING, mesos.TASK_RUNNING)
			for {
				e := nextEvent(master.Event_TASK_UPDATED)
				if e.GetTaskUpdated().GetState() == mesos.TASK_RUNNING {
					break
				}
			}

			if !operatorCall(t, op, calls.GetHealth()).GetGetHealth().Healthy {
				t.Fatal("GET_HEALTH: not healthy")
			}
			if v := operatorCall(t, op, calls.GetVersion()).GetGetVersion().VersionInfo.Version; v != "1.11.0" {
				t.Fatalf("GET_VERSION %q", v)
			}
			state := operatorCall(t, op, calls.GetState()).GetGetState()
			if len(state.GetGetTasks().Tasks) != 1 || state.GetGetTasks().Tasks[0].GetState() != mesos.TASK_RUNNING ||
				len(state.GetGetFrameworks().Frameworks) != 1 || len(state.GetGetAgents().Agents) != 1 {
				t.Fatalf("GET_STATE %v", state)
			}
			if a := operatorCall(t, op, calls.GetAgents()).GetGetAgents().Agents; len(a) != 1 || a[0].AgentInfo.ID.Value != offer.AgentID.Value {
				t.Fatalf("GET_AGENTS %v", a)
			}
			if tasks := operatorCall(t, op, calls.GetTasks()).GetGetTasks().Tasks; len(tasks) != 1 || tasks[0].TaskID.Value != "watched" {
				t.Fatalf("GET_TASKS %v", tasks)
			}
			if roles := operatorCall(t, op, calls.GetRoles()).GetGetRoles().Roles; len(roles) != 1 || roles[0].Name != "*" {
				t.Fatalf("GET_ROLES %v", roles)
			}
			if mi := operatorCall(t, op, calls.GetMaster()).GetGetMaster().MasterInfo; mi == nil || !strings.Contains(c.MasterAddr(), mi.Address.GetIP()) {
				t.Fatalf("GET_MASTER %v", mi)
			}
			metrics := map[string]float64{}
			for _, m := range operatorCall(t, op, calls.GetMetrics(nil)).GetGetMetrics().Metrics {
				metrics[m.Name] = m.GetValue()
			}
			if metrics["master/tasks_running"] != 1 || metrics["master/slaves_active"] != 1 || metrics["master/cpus_total"] != 4 {
				t.Fatalf("GET_METRICS %v", metrics)
			}
			if err := calls.SendNoData(context.Background(), op, calls.NonStreaming(calls.SetLoggingLevel(1, 0))); err != nil {
				t.Fatalf("SET_LOGGING_LEVEL: %v", err)
			}
			if l := operatorCall(t, op, calls.GetLoggingLevel()).GetGetLoggingLevel().Level; l != 1 {
				t.Fatalf("GET_LOGGING_LEVEL after setting 1: %d", l)
			}
			// TEARDOWN through the operator API kills the task.
			if err := calls.SendNoData(context.Background(), op, calls.NonStreaming(calls.Teardown(mesos.FrameworkID{Value: s.id}))); err != nil {
				t.Fatalf("TEARDOWN: %v", err)
			}
			if e := nextEvent(master.Event_FRAMEWORK_REMOVED); e.GetFrameworkRemoved().FrameworkInfo.ID.Value != s.id {
				t.Fatalf("FRAMEWORK_REMOVED for %v", e.GetFrameworkRemoved().FrameworkInfo.ID)
			}
		})
	}
}

func TestWeights(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Master: func(c *masterConfig) { c.Weights = "prod=3" }})
	op := operator(c.MasterAddr(), encodings[1])
	weights := func() map[string]float64 {
		out := map[string]float64{}
		for _, w := range operatorCall(t, op, calls.GetWeights()).GetGetWeights().WeightInfos {
			out[w.GetRole()] = w.GetWeight()
		}
		return out
	}
	if got := weights(); got["prod"] != 3 || len(got) != 1 {
		t.Fatalf("GET_WEIGHTS with --weights prod=3: %v", got)
	}
	if err := calls.SendNoData(context.Background(), op, calls.NonStreaming(calls.UpdateWeights(mesos.WeightInfo{Role: ptr("dev"), Weight: 0.5}))); err != nil {
		t.Fatal(err)
	}
	if got := weights(); got["prod"] != 3 || got["dev"] != 0.5 {
		t.Fatalf("GET_WEIGHTS after UPDATE_WEIGHTS dev=0.5: %v", got)
	}
	err := calls.SendNoData(context.Background(), op, calls.NonStreaming(calls.UpdateWeights(mesos.WeightInfo{Role: ptr("bad role"), Weight: 1})))
	if err == nil {
		t.Fatal("UPDATE_WEIGHTS with an invalid role was accepted")
	}
}

type masterConfig = masterpkg.Config
