package agent

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/plateau/plateau/internal/httpapi"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/executor"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/queue"
)

func badRequest(format string, args ...any) error { return httpapi.BadRequest(format, args...) }

// serveExecutor is POST /api/v1/executor, the v1 executor API.
func (a *Agent) serveExecutor(w http.ResponseWriter, r *http.Request) {
	if !httpapi.RequirePOST(w, r) {
		return
	}
	call := &executor.Call{}
	if err := httpapi.Decode(r, call); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var err error
	if err := validateExecutorCall(call); err != nil {
		httpapi.WriteError(w, badRequest("Failed to validate executor::Call: %v", err))
		return
	}
	if call.GetType() == executor.Call_SUBSCRIBE {
		a.serveExecutorSubscribe(w, r, call)
		return
	}
	fwID, execID := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	if doErr := a.do(r.Context(), func() {
		e := a.executor(fwID, execID)
		switch {
		case e == nil:
			err = badRequest("Executor %s of framework %s cannot be found", execID, fwID)
		case e.stream == nil:
			// Updates come in order through a subscription: an executor
			// that has not (re-)subscribed to this agent sends them again
			// when it does.
			err = httpapi.Forbidden("Executor is not subscribed")
		case call.GetType() == executor.Call_UPDATE:
			status := proto.Clone(call.GetUpdate().GetStatus()).(*mesos.TaskStatus)
			if _, known := e.tasks[status.GetTaskId().GetValue()]; !known {
				err = badRequest("Task %s is unknown to executor %s", status.GetTaskId().GetValue(), execID)
				return
			}
			if status.GetState() == mesos.TaskState_TASK_FAILED && e.container != nil {
				// A task killed by the OOM killer failed by its limit, as
				// Mesos's memory isolator reports it.
				if l, ok := e.limitation(); ok && l.Memory {
					status.Reason = mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY.Enum()
					status.Message = proto.String(l.Message)
				}
			}
			// The executor hears ACKNOWLEDGED when the framework has
			// acknowledged: until then it keeps the update and resends it
			// if the agent restarts, so none is lost.
			a.statusUpdate(fwID, e, status)
		case call.GetType() == executor.Call_MESSAGE:
			a.send(&plateaupb.AgentMessage{Message: &plateaupb.AgentMessage_ExecutorToFramework{ExecutorToFramework: &plateaupb.ExecutorToFramework{
				FrameworkId: call.GetFrameworkId(), ExecutorId: call.GetExecutorId(), Data: call.GetMessage().GetData()}}})
		default:
			err = badRequest("Unsupported call type %s", call.GetType())
		}
	}); doErr != nil {
		err = doErr
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// validateExecutorCall checks a call's shape as Mesos's
// validation::executor::call::validate does.
func validateExecutorCall(c *executor.Call) error {
	switch {
	case c.Type == nil:
		return errors.New("Expecting 'type' to be present")
	case c.GetExecutorId().GetValue() == "":
		return errors.New("Expecting 'executor_id' to be present")
	case c.GetFrameworkId().GetValue() == "":
		return errors.New("Expecting 'framework_id' to be present")
	}
	switch c.GetType() {
	case executor.Call_SUBSCRIBE:
		if c.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
	case executor.Call_UPDATE:
		if c.Update == nil {
			return errors.New("Expecting 'update' to be present")
		}
		s := c.GetUpdate().GetStatus()
		if _, err := uuid.FromBytes(s.GetUuid()); err != nil {
			return errors.New("'uuid' must be a valid UUID")
		}
		if s.ExecutorId != nil && s.GetExecutorId().GetValue() != c.GetExecutorId().GetValue() {
			return errors.New("ExecutorID in Call and Status differ")
		}
		if s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
			return errors.New("Received Call from executor with invalid source")
		}
		if s.GetState() == mesos.TaskState_TASK_STAGING {
			return errors.New("Received TASK_STAGING from executor")
		}
	case executor.Call_MESSAGE:
		if c.Message == nil {
			return errors.New("Expecting 'message' to be present")
		}
	default:
		return fmt.Errorf("Unknown call type %v", c.GetType())
	}
	return nil
}

// serveExecutorSubscribe answers SUBSCRIBE with the executor's event
// stream: SUBSCRIBED, then the tasks waiting for it.
func (a *Agent) serveExecutorSubscribe(w http.ResponseWriter, r *http.Request, call *executor.Call) {
	enc, err := codec.ForAccept(r.Header.Get("Accept"))
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	fwID, execID := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	var events *queue.Queue[*executor.Event]
	var streamID int
	if doErr := a.do(r.Context(), func() { events, streamID, err = a.subscribeExecutor(fwID, execID, call.GetSubscribe()) }); doErr != nil {
		err = doErr
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordIOWriter(w, enc)
	if err := events.Drain(r.Context().Done(), func(ev *executor.Event) error { return rw.Write(ev) }, nil); err != nil {
		a.post(func() { a.executorDisconnected(fwID, execID, streamID) })
	}
}

// subscribeExecutor attaches an executor's event stream and hands it its
// waiting tasks. A re-subscribing executor reports the updates the agent
// has not acknowledged; those are handled again.
func (a *Agent) subscribeExecutor(fwID, execID string, sub *executor.Call_Subscribe) (*queue.Queue[*executor.Event], int, error) {
	e := a.executor(fwID, execID)
	if e == nil || e.terminated {
		return nil, 0, badRequest("Executor %s of framework %s cannot be found", execID, fwID)
	}
	if e.stream != nil {
		e.stream.Close()
	}
	if e.registration != nil {
		e.registration.Stop()
	}
	e.stream = queue.New[*executor.Event]()
	e.streamID++
	fw := a.frameworks[fwID]
	e.send(&executor.Event{Type: executor.Event_SUBSCRIBED.Enum(), Subscribed: &executor.Event_Subscribed{
		ExecutorInfo: e.info, FrameworkInfo: fw.info, AgentInfo: a.info,
		ContainerId: &mesos.ContainerID{Value: proto.String(e.containerID)},
	}})
	// Updates the framework has not acknowledged: those the agent does
	// not hold (it restarted) are taken again, in order.
	unacked := sub.GetUnacknowledgedUpdates()
	sort.SliceStable(unacked, func(i, j int) bool {
		return unacked[i].GetStatus().GetTimestamp() < unacked[j].GetStatus().GetTimestamp()
	})
	for _, u := range unacked {
		st := u.GetStatus()
		switch taskID := st.GetTaskId().GetValue(); {
		case st == nil, a.updates.has(fwID, taskID, st.GetUuid()):
		case a.updates.wasAcked(fwID, taskID, st.GetUuid()):
			// Acknowledged while the executor was away: tell it again.
			e.send(&executor.Event{Type: executor.Event_ACKNOWLEDGED.Enum(), Acknowledged: &executor.Event_Acknowledged{
				TaskId: st.GetTaskId(), Uuid: st.GetUuid()}})
		default:
			a.statusUpdate(fwID, e, proto.Clone(st).(*mesos.TaskStatus))
		}
	}
	for _, t := range e.queued {
		e.send(launchEvent(t))
	}
	for _, g := range e.queuedGroup {
		e.send(launchGroupEvent(g))
	}
	e.queued, e.queuedGroup = nil, nil
	if e.shuttingDown {
		e.send(&executor.Event{Type: executor.Event_SHUTDOWN.Enum()})
	}
	return e.stream, e.streamID, nil
}

// executorDisconnected handles an executor's stream ending.
func (a *Agent) executorDisconnected(fwID, execID string, streamID int) {
	e := a.executor(fwID, execID)
	if e == nil || e.streamID != streamID || e.stream == nil {
		return
	}
	e.stream.Close()
	e.stream = nil
	a.log.Info("executor disconnected", "framework", fwID, "executor", execID)
}
