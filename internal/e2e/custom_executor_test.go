package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/pborman/uuid"

	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

const customExecutorRole = "mesos-go-executor"

// runIfCustomExecutor makes the test binary a custom executor written with
// mesos-go's executor client, when an agent starts it as one.
func runIfCustomExecutor() {
	if os.Getenv("PLATEAU_TEST_ROLE") != customExecutorRole {
		return
	}
	if err := customExecutor(); err != nil {
		os.Stderr.WriteString("custom executor: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

func customExecutor() error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	http := httpcli.New(
		httpcli.Endpoint("http://"+cfg.AgentEndpoint+"/api/v1/executor"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
	)
	opts := executor.CallOptions{calls.Framework(cfg.FrameworkID), calls.Executor(cfg.ExecutorID)}
	sender := calls.SenderWith(httpexec.NewSender(http.Send), opts...)
	subscriber := calls.SenderWith(httpexec.NewSender(http.Send, httpcli.Close(true)), opts...)
	resp, err := subscriber.Send(context.Background(), calls.NonStreaming(calls.Subscribe(nil, nil)))
	if err != nil {
		return err
	}
	defer resp.Close()
	unacked := map[string]bool{}
	update := func(taskID mesos.TaskID, state mesos.TaskState) error {
		id := uuid.NewRandom()
		unacked[string(id)] = true
		st := mesos.TaskStatus{TaskID: taskID, State: state.Enum(), Source: mesos.SOURCE_EXECUTOR.Enum(), UUID: id,
			ExecutorID: &mesos.ExecutorID{Value: cfg.ExecutorID}}
		r, err := sender.Send(context.Background(), calls.NonStreaming(calls.Update(st)))
		if r != nil {
			r.Close()
		}
		return err
	}
	finished := false
	var taskID mesos.TaskID
	for {
		var e executor.Event
		if err := resp.Decode(&e); err != nil {
			return err
		}
		switch e.Type {
		case executor.Event_LAUNCH:
			task := e.Launch.Task
			if err := update(task.TaskID, mesos.TASK_RUNNING); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(cfg.Sandbox, "custom-executor-ran"), task.Data, 0o644); err != nil {
				return err
			}
			r, err := sender.Send(context.Background(), calls.NonStreaming(calls.Message([]byte("hello from the executor"))))
			if r != nil {
				r.Close()
			}
			if err != nil {
				return err
			}
			taskID = task.TaskID
		case executor.Event_MESSAGE:
			// The framework's answer ends the task.
			if err := os.WriteFile(filepath.Join(cfg.Sandbox, "framework-said"), e.Message.Data, 0o644); err != nil {
				return err
			}
			if err := update(taskID, mesos.TASK_FINISHED); err != nil {
				return err
			}
			finished = true
		case executor.Event_ACKNOWLEDGED:
			delete(unacked, string(e.Acknowledged.UUID))
			if finished && len(unacked) == 0 {
				return nil
			}
		case executor.Event_SHUTDOWN:
			return nil
		}
	}
}

// A custom executor written with mesos-go's executor library runs a task.
func TestCustomExecutor(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-custom-executor"))
	offer := s.offer()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shell := false
	task := mesos.TaskInfo{
		Name: "custom", TaskID: mesos.TaskID{Value: "custom"}, AgentID: offer.AgentID,
		Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		Data:      []byte("task data"),
		Executor: &mesos.ExecutorInfo{
			ExecutorID: mesos.ExecutorID{Value: "mesos-go-executor"},
			Resources:  []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
			Command: &mesos.CommandInfo{Shell: &shell, Value: &self, Arguments: []string{self},
				Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "PLATEAU_TEST_ROLE", Value: ptr(customExecutorRole)}}}},
		},
	}
	s.call(schedcalls.Accept(schedcalls.OfferOperations{schedcalls.OpLaunch(task)}.WithOffers(offer.ID)))
	if st := s.update("custom"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("first update %v (%s), want TASK_RUNNING", st.GetState(), st.GetMessage())
	}
	msg := s.next(scheduler.Event_MESSAGE).GetMessage()
	if string(msg.Data) != "hello from the executor" || msg.ExecutorID.Value != "mesos-go-executor" {
		t.Fatalf("MESSAGE %q from %v", msg.Data, msg.ExecutorID)
	}
	s.call(schedcalls.Message(offer.AgentID.Value, "mesos-go-executor", []byte("hello from the framework")))
	if st := s.update("custom"); st.GetState() != mesos.TASK_FINISHED {
		t.Fatalf("second update %v, want TASK_FINISHED", st.GetState())
	}
	// The executor's exit is reported as FAILURE with its status.
	f := s.next(scheduler.Event_FAILURE).GetFailure()
	if f.GetExecutorID().Value != "mesos-go-executor" || f.GetStatus() != 0 {
		t.Fatalf("FAILURE %+v, want the executor's clean exit", f)
	}
	files := &client.Files{Agent: c.Agents[0].Addr()}
	data, _, err := files.Read(context.Background(), client.SandboxPath(s.id, "mesos-go-executor")+"/custom-executor-ran", 0, 100)
	if err != nil || string(data) != "task data" {
		t.Fatalf("file the executor wrote = %q, %v", data, err)
	}
	data, _, err = files.Read(context.Background(), client.SandboxPath(s.id, "mesos-go-executor")+"/framework-said", 0, 100)
	if err != nil || string(data) != "hello from the framework" {
		t.Fatalf("the framework's MESSAGE reached the executor as %q, %v", data, err)
	}
}

func ptr[T any](v T) *T { return &v }
