package master

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// A framework in /master/state has Mesos's layout: its offers and
// executors as Mesos's model renders them, and its resources summed.
func TestFrameworkJSONLayout(t *testing.T) {
	offered, _ := resources.Parse("cpus:2;mem:64;ports:[31000-31009]", "*")
	taskRes, _ := resources.Parse("cpus:0.5;mem:16", "*")
	execRes, _ := resources.Parse("cpus:0.1;mem:32", "*")
	id := func(v string) *string { return proto.String(v) }
	f := frameworkSnapshot{
		info: &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: id("fw")}, Name: id("web"), User: id("u"), Role: id("r"),
			Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: id("team"), Value: id("search")}}}},
		active:     true,
		registered: time.Unix(100, 0),
		tasks: []*mesos.Task{{TaskId: &mesos.TaskID{Value: id("t")}, Name: id("t"), State: mesos.TaskState_TASK_RUNNING.Enum(),
			Resources: taskRes.Allocate("r")}},
		offers: []*mesos.Offer{{Id: &mesos.OfferID{Value: id("o")}, FrameworkId: &mesos.FrameworkID{Value: id("fw")},
			AgentId: &mesos.AgentID{Value: id("a")}, Hostname: id("h"), Resources: offered.Allocate("r"),
			AllocationInfo: &mesos.Resource_AllocationInfo{Role: id("r")}}},
		executors: []executorSnapshot{{info: &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: id("e")}, Name: id("exec"),
			FrameworkId: &mesos.FrameworkID{Value: id("fw")}, Resources: execRes}, agentID: "a"}},
	}
	var got map[string]any
	if err := json.Unmarshal(f.appendJSON(nil), &got); err != nil {
		t.Fatalf("a framework's JSON does not parse: %v", err)
	}
	want := map[string]any{
		"offers": []any{map[string]any{"id": "o", "framework_id": "fw", "slave_id": "a", "allocation_info": map[string]any{"role": "r"},
			"resources": map[string]any{"cpus": 2.0, "mem": 64.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31009]"}}},
		"executors": []any{map[string]any{"executor_id": "e", "name": "exec", "framework_id": "fw", "slave_id": "a",
			"resources": map[string]any{"cpus": 0.1, "mem": 32.0, "disk": 0.0, "gpus": 0.0}}},
		"used_resources":    map[string]any{"cpus": 0.6, "mem": 48.0, "disk": 0.0, "gpus": 0.0},
		"offered_resources": map[string]any{"cpus": 2.0, "mem": 64.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31009]"},
		"resources":         map[string]any{"cpus": 2.6, "mem": 112.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31009]"},
		"unreachable_tasks": []any{},
		"completed_tasks":   []any{},
		"registered_time":   100.0,
		"labels":            []any{map[string]any{"key": "team", "value": "search"}},
	}
	for key, w := range want {
		if !reflect.DeepEqual(got[key], w) {
			t.Errorf("%s = %v, want %v", key, got[key], w)
		}
	}
	if tasks, _ := got["tasks"].([]any); len(tasks) != 1 || tasks[0].(map[string]any)["id"] != "t" {
		t.Errorf("tasks = %v, want the task t", got["tasks"])
	}

}

// GET_AGENTS and GET_FRAMEWORKS give allocated and offered resources
// summed, as Mesos does, and count only live tasks.
func TestOperatorResourcesAreSummed(t *testing.T) {
	res := func(text string) resources.Resources {
		r, err := resources.Parse(text, "*")
		if err != nil {
			t.Fatal(err)
		}
		return r.Allocate("r")
	}
	task := func(id string, state mesos.TaskState) *mesos.Task {
		return &mesos.Task{TaskId: &mesos.TaskID{Value: proto.String(id)}, State: state.Enum(), Resources: res("cpus:0.5;mem:10")}
	}
	one := func(rs []*mesos.Resource, name string) float64 {
		n, sum := 0, 0.0
		for _, r := range rs {
			if r.GetName() == name {
				n++
				sum += r.GetScalar().GetValue()
			}
		}
		if n != 1 {
			t.Errorf("%d %s entries in %v, want 1", n, name, rs)
		}
		return sum
	}

	a := agentSnapshot{info: &mesos.AgentInfo{}, used: append(res("cpus:0.5;mem:10"), res("cpus:0.5;mem:10")...)}
	if got := one(a.proto().AllocatedResources, "cpus"); got != 1 {
		t.Errorf("agent allocated cpus %v, want 1", got)
	}
	f := frameworkSnapshot{info: &mesos.FrameworkInfo{},
		tasks: []*mesos.Task{task("a", mesos.TaskState_TASK_RUNNING), task("b", mesos.TaskState_TASK_RUNNING), task("c", mesos.TaskState_TASK_FINISHED)}}
	if got := one(f.proto().AllocatedResources, "mem"); got != 20 {
		t.Errorf("framework allocated mem %v, want 20 (two live tasks)", got)
	}
}
