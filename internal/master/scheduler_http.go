package master

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/queue"

	"github.com/google/uuid"

	"github.com/plateau/plateau/internal/api/codec"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

func badRequest(format string, args ...any) error { return httpapi.BadRequest(format, args...) }
func forbidden(msg string) error                  { return httpapi.Forbidden(msg) }
func conflict(format string, args ...any) error {
	return httpapi.Errorf(http.StatusConflict, format, args...)
}

// serveScheduler is POST /api/v1/scheduler.
func (m *Master) serveScheduler(w http.ResponseWriter, r *http.Request) {
	if !httpapi.RequirePOST(w, r) {
		return
	}
	call := &scheduler.Call{}
	if err := httpapi.Decode(r, call); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if err := validateCall(call); err != nil {
		m.invalidCalls.Add(1)
		httpapi.WriteError(w, badRequest("Failed to validate scheduler::Call: %v", err))
		return
	}
	start := time.Now()
	defer func() {
		m.prom.calls.WithLabelValues("scheduler", call.GetType().String()).Observe(time.Since(start).Seconds())
	}()
	if call.GetType() == scheduler.Call_SUBSCRIBE {
		m.serveSubscribe(w, r, call)
		return
	}
	var err error
	if doErr := m.do(r.Context(), func() { err = m.handleCall(r.Header.Get("Mesos-Stream-Id"), call) }); doErr != nil {
		err = doErr
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// serveSubscribe answers SUBSCRIBE with the framework's event stream, which
// lasts until the scheduler hangs up or the master ends it.
func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		httpapi.WriteError(w, badRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header"))
		return
	}
	enc, err := codec.ForAccept(r.Header.Get("Accept"))
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpapi.WriteError(w, errors.New("streaming unsupported by the connection"))
		return
	}
	streamID := uuid.NewString()
	var sub *subscription
	if doErr := m.do(r.Context(), func() { sub, err = m.subscribe(call.GetSubscribe(), streamID) }); doErr != nil {
		err = doErr
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Mesos-Stream-Id", streamID)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	// Heartbeats join the framework's events in its queue; the stream
	// ends when the master closes the queue or the scheduler hangs up.
	go heartbeats(sub.events, &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()}, m.cfg.HeartbeatInterval, r.Context().Done())
	rw := codec.NewRecordIOWriter(w, enc)
	err = sub.events.Drain(r.Context().Done(), func(ev *scheduler.Event) error { return rw.Write(ev) }, nil)
	if err != nil {
		m.post(func() { m.frameworkDisconnected(sub.frameworkID, streamID) })
	}
}

// heartbeats queues hb every interval until the queue closes or done
// does.
func heartbeats[T any](q *queue.Queue[T], hb T, interval time.Duration, done <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if !q.Push(hb) {
				return
			}
		case <-done:
			return
		}
	}
}

// subscription is what SUBSCRIBE hands back to the HTTP handler.
type subscription struct {
	frameworkID string
	events      *queue.Queue[*scheduler.Event]
}

// validateCall checks a call's shape as Mesos's
// validation::scheduler::call::validate does.
func validateCall(c *scheduler.Call) error {
	if c.Type == nil {
		return errors.New("Expecting 'type' to be present")
	}
	if c.GetType() == scheduler.Call_SUBSCRIBE {
		if c.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
		fi := c.GetSubscribe().GetFrameworkInfo()
		if c.FrameworkId != nil && (fi.Id == nil || fi.GetId().GetValue() != c.GetFrameworkId().GetValue()) {
			return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	if c.FrameworkId == nil {
		return errors.New("Expecting 'framework_id' to be present")
	}
	// Mesos takes REVIVE and SUPPRESS without their messages.
	if err := httpapi.RequireCallBody(c.ProtoReflect(), c.GetType().String(), "REVIVE", "SUPPRESS"); err != nil {
		return err
	}
	if c.GetType() == scheduler.Call_UNKNOWN {
		return errors.New("Unknown call type")
	}
	if c.GetType() == scheduler.Call_ACKNOWLEDGE {
		if _, err := uuid.FromBytes(c.GetAcknowledge().GetUuid()); err != nil {
			return fmt.Errorf("'acknowledge.uuid' is not a valid UUID: %v", err)
		}
	}
	return nil
}
