package executor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/executor"
)

// fakeAgent is the executor API of an agent, played by the test: each
// subscription's stream carries the events the test queues for it.
type fakeAgent struct {
	t       *testing.T
	mu      sync.Mutex
	stream  chan *executor.Event // the current subscription's; nil while none is answered
	subs    chan *executor.Call  // SUBSCRIBE calls, as they arrive
	answer  chan chan *executor.Event
	updates chan *mesos.TaskStatus // UPDATEs accepted
	refused chan *mesos.TaskStatus // UPDATEs refused: no subscription answered
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := &executor.Call{}
	if err := proto.Unmarshal(body, call); err != nil {
		a.t.Errorf("the executor sent a call that does not decode: %v", err)
		return
	}
	switch call.GetType() {
	case executor.Call_SUBSCRIBE:
		a.subs <- call
		var events chan *executor.Event
		select {
		case events = <-a.answer: // the test decides when the subscription is answered
		case <-r.Context().Done():
			return
		}
		a.mu.Lock()
		a.stream = events
		a.mu.Unlock()
		w.Header().Set("Content-Type", codec.MediaTypeProtobuf)
		w.WriteHeader(http.StatusOK)
		rw := codec.NewRecordIOWriter(w, codec.Protobuf)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				if err := rw.Write(ev); err != nil {
					a.t.Errorf("writing %v: %v", ev.GetType(), err)
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	case executor.Call_UPDATE:
		a.mu.Lock()
		stream := a.stream
		a.mu.Unlock()
		st := call.GetUpdate().GetStatus()
		if stream == nil {
			w.WriteHeader(http.StatusForbidden)
			a.refused <- st
			return
		}
		w.WriteHeader(http.StatusAccepted)
		stream <- &executor.Event{Type: executor.Event_ACKNOWLEDGED.Enum(), Acknowledged: &executor.Event_Acknowledged{TaskId: st.GetTaskId(), Uuid: st.GetUuid()}}
		a.updates <- st
	}
}

// end closes the current subscription's stream, as a dying agent does.
func (a *fakeAgent) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.stream)
	a.stream = nil
}

func subscribed() *executor.Event {
	return &executor.Event{Type: executor.Event_SUBSCRIBED.Enum(), Subscribed: &executor.Event_Subscribed{
		ExecutorInfo:  &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}},
		FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("f")},
		AgentInfo:     &mesos.AgentInfo{Hostname: proto.String("h")},
		ContainerId:   &mesos.ContainerID{Value: proto.String("c")},
	}}
}

// An update made while the executor re-subscribes, which the restarted
// agent refuses because the subscription is not answered yet and which
// the SUBSCRIBE call does not carry, is sent once the subscription is
// answered: the task's end is not lost.
func TestUpdateMadeWhileResubscribingIsSent(t *testing.T) {
	procs := runtime.GOMAXPROCS(0) // RunCommand sets it
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	agent := &fakeAgent{t: t, subs: make(chan *executor.Call), answer: make(chan chan *executor.Event),
		updates: make(chan *mesos.TaskStatus, 16), refused: make(chan *mesos.TaskStatus, 16)}
	srv := httptest.NewServer(agent)
	defer srv.Close()
	defer srv.CloseClientConnections()

	sandbox := t.TempDir()
	marker := filepath.Join(sandbox, "end")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- RunCommand(ctx, Config{FrameworkID: "f", ExecutorID: "e", AgentEndpoint: srv.Listener.Addr().String(),
			Sandbox: sandbox, ShutdownGrace: time.Second, Checkpoint: true}, io.Discard)
	}()
	next := func(ch chan *mesos.TaskStatus, what string) *mesos.TaskStatus {
		t.Helper()
		select {
		case st := <-ch:
			return st
		case err := <-done:
			t.Fatalf("the executor ended (%v) waiting for %s", err, what)
		case <-ctx.Done():
			t.Fatalf("no %s", what)
		}
		return nil
	}

	// The first subscription: the task starts and runs.
	select {
	case <-agent.subs:
	case <-ctx.Done():
		t.Fatal("no SUBSCRIBE")
	}
	first := make(chan *executor.Event, 16)
	agent.answer <- first
	first <- subscribed()
	first <- &executor.Event{Type: executor.Event_LAUNCH.Enum(), Launch: &executor.Event_Launch{Task: &mesos.TaskInfo{
		Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
		Command: &mesos.CommandInfo{Shell: proto.Bool(true), Value: proto.String("while [ ! -f " + marker + " ]; do sleep 0.01; done")}}}}
	for _, want := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING} {
		if st := next(agent.updates, want.String()); st.GetState() != want {
			t.Fatalf("update %v, want %v", st.GetState(), want)
		}
	}

	// The agent dies; the executor subscribes again, and before that is
	// answered, the task ends.
	agent.end()
	var sub *executor.Call
	select {
	case sub = <-agent.subs:
	case <-ctx.Done():
		t.Fatal("no second SUBSCRIBE")
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := next(agent.refused, "the refused TASK_FINISHED"); st.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("refused update %v, want TASK_FINISHED", st.GetState())
	}
	if n := len(sub.GetSubscribe().GetUnacknowledgedUpdates()); n != 0 {
		t.Fatalf("the SUBSCRIBE call carries %d updates, want none (all were acknowledged when it was made)", n)
	}
	second := make(chan *executor.Event, 16)
	agent.answer <- second
	second <- subscribed()
	if st := next(agent.updates, "TASK_FINISHED after the subscription"); st.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("update %v after re-subscribing, want TASK_FINISHED", st.GetState())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the executor ended with %v once its last update was acknowledged", err)
		}
	case <-ctx.Done():
		t.Fatal("the executor did not end once its last update was acknowledged")
	}
	close(second)
}
