package agent

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

func update(task string, state mesos.TaskState, uuid string) *plateaupb.StatusUpdate {
	return &plateaupb.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")},
		Status:      &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: state.Enum(), Uuid: []byte(uuid)},
	}
}

func TestUpdateManagerOrderAndAck(t *testing.T) {
	m := newUpdateManager()
	now := time.Unix(0, 0)
	if got := m.add(update("t", mesos.TaskState_TASK_STARTING, "u1"), now); got == nil {
		t.Fatal("first update of a task must be sent at once")
	}
	if got := m.add(update("t", mesos.TaskState_TASK_RUNNING, "u2"), now); got != nil {
		t.Fatal("second update must wait for the first's acknowledgement")
	}
	if got := m.add(update("other", mesos.TaskState_TASK_RUNNING, "o1"), now); got == nil {
		t.Fatal("another task's update must not wait")
	}
	if _, ok := m.ack("fw", "t", []byte("u2"), now); ok {
		t.Fatal("an acknowledgement of a non-head update must not match")
	}
	next, ok := m.ack("fw", "t", []byte("u1"), now)
	if !ok || string(next.GetStatus().GetUuid()) != "u2" {
		t.Fatalf("ack(u1) = %v, %v; want u2 next", next, ok)
	}
	next, ok = m.ack("fw", "t", []byte("u2"), now)
	if !ok || next != nil || m.pending("fw", "t") {
		t.Fatalf("ack(u2) = %v, %v; want nothing pending", next, ok)
	}
}

func TestUpdateManagerRetryBackoff(t *testing.T) {
	m := newUpdateManager()
	start := time.Unix(0, 0)
	m.add(update("t", mesos.TaskState_TASK_RUNNING, "u1"), start)
	if got := m.due(start.Add(9 * time.Second)); len(got) != 0 {
		t.Fatalf("retried before 10s: %v", got)
	}
	// Retries at 10s, then 20s later, then 40s later...
	at := start
	for _, wait := range []time.Duration{10, 20, 40, 80} {
		at = at.Add(wait * time.Second)
		if got := m.due(at.Add(-time.Millisecond)); len(got) != 0 {
			t.Fatalf("retried before %v", at)
		}
		if got := m.due(at); len(got) != 1 {
			t.Fatalf("no retry at %v", at)
		}
	}
	// The backoff is capped at 10 minutes.
	for range 20 {
		m.due(at.Add(time.Hour))
		at = at.Add(time.Hour)
	}
	if got := m.due(at.Add(10 * time.Minute)); len(got) != 1 {
		t.Fatal("backoff exceeded 10 minutes")
	}
	if got := m.heads(); len(got) != 1 {
		t.Fatalf("heads = %v", got)
	}
	m.dropFramework("fw")
	if got := m.heads(); len(got) != 0 {
		t.Fatalf("heads after dropFramework = %v", got)
	}
}
