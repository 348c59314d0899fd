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

// Ranges of a name are merged where they overlap or touch, as adding
// Mesos's Resources merges them.
func TestResourcesMergesRanges(t *testing.T) {
	ports := func(begin, end uint64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
			Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(begin), End: proto.Uint64(end)}}}}
	}
	rs := []*mesos.Resource{ports(20, 30), ports(7, 9), ports(1, 3), ports(7, 9)}
	if got := Resources(rs)["ports"]; got != "[1-3, 7-9, 20-30]" {
		t.Errorf("ports %v, want [1-3, 7-9, 20-30]", got)
	}
	if got := Resources(append(rs, ports(4, 6)))["ports"]; got != "[1-9, 20-30]" {
		t.Errorf("ports %v, want [1-9, 20-30]", got)
	}
	unsorted := ports(20, 30)
	unsorted.Ranges.Range = append(unsorted.Ranges.Range, ports(1, 3).Ranges.Range...)
	if got := Resources([]*mesos.Resource{unsorted})["ports"]; got != "[1-3, 20-30]" {
		t.Errorf("ports %v, want [1-3, 20-30]", got)
	}
	if got := unsorted.GetRanges().GetRange()[0].GetBegin(); got != 20 {
		t.Errorf("the model reordered a record's ranges: the first begins at %d", got)
	}
}

// AppendResources writes the bytes encoding/json writes for Resources.
func TestAppendResourcesMatchesResources(t *testing.T) {
	for _, text := range []string{
		"",
		"cpus:1.5;mem:100",
		"cpus:1.5;mem:100;ports:[31000-31005,31010-31010];gpus:1;zones:{a,b};bogomips:7;cpus(web):0.5",
		"ports:[5-9,1-2];disk:0.0004;aaa:1;zzz:{x}",
		"ports:[31000-32000];ports:[31000-32000];ports:[1-3,7-9];ports:[4-5,20-30]",
		"cpus:0.1;cpus:0.2;mem:1;mem:2;a:{p,q};b:[1-1];c:3;d:4;e:5;f:6;g:7;h:8",
	} {
		rs, err := resources.Parse(text, "*")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(Resources(rs))
		if got := AppendResources(nil, rs); string(got) != string(want) {
			t.Errorf("%q: AppendResources = %s, want %s", text, got, want)
		}
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

// BenchmarkAppendTask renders one running task, as /master/state does
// 100,000 times at the operators' view issue's size.
func BenchmarkAppendTask(b *testing.B) {
	rs, _ := resources.Parse("cpus:0.1;mem:32", "*")
	task := &mesos.Task{Name: proto.String("task-000001"), TaskId: &mesos.TaskID{Value: proto.String("task-000001")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("fffffffff-0001")},
		AgentId: &mesos.AgentID{Value: proto.String("aaaaaaaaaaaa-S1")}, State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: rs.Allocate("web"),
		User: proto.String("u"), Statuses: []*mesos.TaskStatus{{State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(1764392400.123456)}}}
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf = AppendTask(buf[:0], task)
	}
	b.SetBytes(int64(len(buf)))
}
