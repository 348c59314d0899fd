package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/cli"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

func TestMain(m *testing.M) {
	// Tests run agents as processes by running this binary as one; its
	// executors are this binary too.
	if len(os.Args) > 1 && os.Args[1] == "plateau-agent" {
		os.Setenv("PLATEAU_TEST_ROLE", "executor")
		os.Exit(cli.Main(context.Background(), append([]string{"agent"}, os.Args[2:]...),
			cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	if len(os.Args) > 1 && os.Args[1] == "plateau-master" {
		os.Exit(cli.Main(context.Background(), append([]string{"master"}, os.Args[2:]...),
			cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	cluster.RunIfExecutor()
	runIfCustomExecutor()
	os.Exit(m.Run())
}

// encodings are the two codecs every scenario runs with.
var encodings = []encoding.Codec{
	codecs.ByMediaType[codecs.MediaTypeProtobuf],
	codecs.ByMediaType[codecs.MediaTypeJSON],
}

// scheduler is a mesos-go scheduler session in a test.
type sched struct {
	t      *testing.T
	caller calls.Caller
	id     string
	events chan *scheduler.Event
	done   chan struct{}
	resp   mesos.Response
	// keepOffers makes next keep the offers it skips, for the next wait
	// for offers, instead of dropping them.
	keepOffers bool
	kept       []*scheduler.Event
}

func subscribe(t *testing.T, masterAddr string, codec encoding.Codec, info *mesos.FrameworkInfo) *sched {
	t.Helper()
	cli := httpcli.New(httpcli.Endpoint("http://"+masterAddr+"/api/v1/scheduler"), httpcli.Codec(codec))
	s := &sched{t: t, caller: httpsched.NewCaller(cli), events: make(chan *scheduler.Event, 1024), done: make(chan struct{})}
	resp, err := s.caller.Call(context.Background(), calls.Subscribe(info))
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	s.resp = resp
	go func() {
		defer close(s.done)
		for {
			var e scheduler.Event
			if err := resp.Decode(&e); err != nil {
				return
			}
			s.events <- &e
		}
	}()
	ev := s.next(scheduler.Event_SUBSCRIBED)
	s.id = ev.GetSubscribed().FrameworkID.Value
	if ev.GetSubscribed().GetHeartbeatIntervalSeconds() <= 0 {
		t.Fatalf("SUBSCRIBED without a heartbeat interval: %v", ev)
	}
	t.Cleanup(func() { resp.Close() })
	return s
}

const eventTimeout = 20 * time.Second

// next waits for the next event of one of the given types, skipping
// heartbeats and (unless asked for) offers.
func (s *sched) next(types ...scheduler.Event_Type) *scheduler.Event {
	s.t.Helper()
	for i, ev := range s.kept {
		for _, want := range types {
			if ev.GetType() == want {
				s.kept = append(s.kept[:i], s.kept[i+1:]...)
				return ev
			}
		}
	}
	deadline := time.After(eventTimeout)
	for {
		select {
		case ev := <-s.events:
			for _, want := range types {
				if ev.GetType() == want {
					return ev
				}
			}
			if ev.GetType() == scheduler.Event_ERROR {
				s.t.Fatalf("ERROR event: %s", ev.GetError().Message)
			}
			if s.keepOffers && ev.GetType() == scheduler.Event_OFFERS {
				s.kept = append(s.kept, ev)
			}
		case <-deadline:
			s.t.Fatalf("no %v event within %v", types, eventTimeout)
		}
	}
}

func (s *sched) call(c *scheduler.Call) {
	s.t.Helper()
	if err := s.tryCall(c); err != nil {
		s.t.Fatalf("%v call: %v", c.Type, err)
	}
}

func (s *sched) tryCall(c *scheduler.Call) error {
	resp, err := s.caller.Call(context.Background(), c.With(calls.Framework(s.id)))
	if resp != nil {
		resp.Close()
	}
	return err
}

// offer waits for an offer.
// With keepOffers, the other offers of the same event are kept for the
// next calls.
func (s *sched) offer() mesos.Offer {
	s.t.Helper()
	offers := s.next(scheduler.Event_OFFERS).GetOffers().Offers
	if s.keepOffers {
		for _, o := range offers[1:] {
			s.kept = append(s.kept, &scheduler.Event{Type: scheduler.Event_OFFERS,
				Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{o}}})
		}
	}
	return offers[0]
}

// update waits for the next status update of a task, acknowledging it.
func (s *sched) update(taskID string) mesos.TaskStatus {
	s.t.Helper()
	for {
		st := s.next(scheduler.Event_UPDATE).GetUpdate().Status
		if len(st.UUID) > 0 {
			s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
		if st.TaskID.Value == taskID {
			return st
		}
	}
}

// expectStates waits for a task's updates to go through states in order.
func (s *sched) expectStates(taskID string, states ...mesos.TaskState) mesos.TaskStatus {
	s.t.Helper()
	var st mesos.TaskStatus
	for _, want := range states {
		st = s.update(taskID)
		if st.GetState() != want {
			s.t.Fatalf("task %s: got %v (%s), want %v", taskID, st.GetState(), st.GetMessage(), want)
		}
	}
	return st
}

func frameworkInfo(name string) *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{User: "root", Name: name}
}

func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

func commandTask(id string, offer mesos.Offer, shellCommand string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: offer.AgentID,
		Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		Command:   &mesos.CommandInfo{Value: &shellCommand},
	}
}

func launch(offer mesos.Offer, tasks ...mesos.TaskInfo) *scheduler.Call {
	return calls.Accept(calls.OfferOperations{calls.OpLaunch(tasks...)}.WithOffers(offer.ID))
}

func name(codec encoding.Codec) string { return fmt.Sprint(codec.Name) }

var _ = io.EOF

const eventUpdate = scheduler.Event_UPDATE

// reach acknowledges updates until every task has reached its state.
func (s *sched) reach(want map[string]mesos.TaskState) {
	s.t.Helper()
	pending := len(want)
	for pending > 0 {
		st := s.next(scheduler.Event_UPDATE).GetUpdate().Status
		if len(st.UUID) > 0 {
			s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
		if w, ok := want[st.TaskID.Value]; ok && st.GetState() == w {
			delete(want, st.TaskID.Value)
			pending--
		}
	}
}

// terminal returns a task's next terminal update, skipping repeated
// non-terminal ones (updates are delivered at least once).
func (s *sched) terminal(taskID string) mesos.TaskStatus {
	s.t.Helper()
	for {
		st := s.update(taskID)
		switch st.GetState() {
		case mesos.TASK_STAGING, mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_KILLING:
			continue
		}
		return st
	}
}
