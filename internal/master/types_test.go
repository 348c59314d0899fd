package master

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// An agent's used resources follow its tasks and executors, and a list
// once handed out never changes (snapshots share it).
func TestAgentUsedFollowsTasks(t *testing.T) {
	a := &agent{tasks: map[string]map[string]*mesos.Task{}, executors: map[string]map[string]*mesos.ExecutorInfo{}}
	res := func(text string) resources.Resources {
		r, err := resources.Parse(text, "*")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	task := func(id string, cpus string, state mesos.TaskState) *mesos.Task {
		return &mesos.Task{TaskId: &mesos.TaskID{Value: proto.String(id)}, State: state.Enum(), Resources: res("cpus:" + cpus)}
	}
	cpus := func() float64 { return resources.Resources(a.used).Scalar("cpus") }
	steps := []struct {
		name string
		do   func()
		want float64
	}{
		{"a task starts", func() { a.putTask("f", task("t1", "1", mesos.TaskState_TASK_RUNNING)) }, 1},
		{"another starts", func() { a.putTask("f", task("t2", "2", mesos.TaskState_TASK_STAGING)) }, 3},
		{"it runs", func() { a.putTask("f", task("t2", "2", mesos.TaskState_TASK_RUNNING)) }, 3},
		{"an executor starts", func() {
			a.putExecutor("f", &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Resources: res("cpus:0.5")})
		}, 3.5},
		{"the first task ends", func() { a.putTask("f", task("t1", "1", mesos.TaskState_TASK_FINISHED)) }, 2.5},
		{"it is forgotten", func() { a.dropTask("f", "t1") }, 2.5},
		{"the running task is forgotten", func() { a.dropTask("f", "t2") }, 0.5},
		{"the executor goes", func() { a.dropExecutor("f", "e") }, 0},
		{"a task arrives finished", func() { a.putTask("g", task("t3", "4", mesos.TaskState_TASK_FAILED)) }, 0},
	}
	for _, step := range steps {
		before := a.used
		kept := slices.Clone(before)
		step.do()
		if got := cpus(); got != step.want {
			t.Fatalf("%s: used cpus %v, want %v", step.name, got, step.want)
		}
		if !slices.Equal(before, kept) {
			t.Fatalf("%s: changed the list a snapshot may hold", step.name)
		}
	}
}
