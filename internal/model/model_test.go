package model

import (
	"encoding/json"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

func TestResources(t *testing.T) {
	rs, err := resources.Parse("cpus:1.5;mem:100;ports:[31000-31005,31010-31010];gpus:1;zones:{a,b};bogomips:7;cpus(web):0.5", "*")
	if err != nil {
		t.Fatal(err)
	}
	got := Resources(rs)
	want := map[string]any{"cpus": 2.0, "gpus": 1.0, "mem": 100.0, "disk": 0.0, "ports": "[31000-31005, 31010-31010]", "zones": "{a,b}", "bogomips": 7.0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Resources = %v, want %v", got, want)
	}
}

// AppendTask renders exactly what Task does.
func TestAppendTaskMatchesTask(t *testing.T) {
	rs, _ := resources.Parse("cpus:0.1;mem:32", "*")
	for _, task := range []*mesos.Task{
		{Name: proto.String("n \"q\""), TaskId: &mesos.TaskID{Value: proto.String("t")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
			AgentId: &mesos.AgentID{Value: proto.String("a")}, State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: rs.Allocate("web"),
			User: proto.String("u"), Statuses: []*mesos.TaskStatus{{State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(12.5), Healthy: proto.Bool(true)}}},
		{Name: proto.String("bare"), TaskId: &mesos.TaskID{Value: proto.String("t2")}, State: mesos.TaskState_TASK_STAGING.Enum()},
	} {
		var fast, slow any
		if err := json.Unmarshal(AppendTask(nil, task), &fast); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(Task(task))
		json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("AppendTask = %v\nTask      = %v", fast, slow)
		}
	}
}
