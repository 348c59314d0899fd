package master

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/plateau/plateau/internal/queue"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

// maxRequestBody bounds a scheduler call's body.
const maxRequestBody = 64 << 20

// httpError is an error with the HTTP status Mesos answers it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func forbidden(msg string) error { return &httpError{http.StatusForbidden, msg} }

// writeError answers err with its status (500 if it has none).
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	} else if errors.Is(err, ErrStopped) {
		status = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), status)
}

// serveScheduler is POST /api/v1/scheduler.
func (m *Master) serveScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, fmt.Sprintf("Expecting one of { 'POST' }, but received '%s'", r.Method), http.StatusMethodNotAllowed)
		return
	}
	call := &scheduler.Call{}
	if err := decodeRequest(r, call); err != nil {
		writeError(w, err)
		return
	}
	if err := validateCall(call); err != nil {
		writeError(w, badRequest("Failed to validate scheduler::Call: %v", err))
		return
	}
	if call.GetType() == scheduler.Call_SUBSCRIBE {
		m.serveSubscribe(w, r, call)
		return
	}
	var err error
	if doErr := m.do(r.Context(), func() { err = m.handleCall(r.Header.Get("Mesos-Stream-Id"), call) }); doErr != nil {
		err = doErr
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// decodeRequest reads the body of r into msg in the encoding its
// Content-Type names.
func decodeRequest(r *http.Request, msg proto.Message) error {
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return codecError(err)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		return badRequest("Failed to read request body: %v", err)
	}
	if err := c.Unmarshal(body, msg); err != nil {
		return badRequest("Failed to parse body into %s: %v", msg.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// codecError maps the codec's negotiation errors to Mesos's statuses.
func codecError(err error) error {
	switch {
	case errors.Is(err, codec.ErrMissingContentType):
		return badRequest("Expecting 'Content-Type' to be present")
	case errors.Is(err, codec.ErrUnsupportedMediaType):
		return &httpError{http.StatusUnsupportedMediaType, err.Error()}
	case errors.Is(err, codec.ErrNotAcceptable):
		return &httpError{http.StatusNotAcceptable, err.Error()}
	}
	return badRequest("%v", err)
}

// serveSubscribe answers SUBSCRIBE with the framework's event stream, which
// lasts until the scheduler hangs up or the master ends it.
func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		writeError(w, badRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header"))
		return
	}
	enc, err := codec.ForAccept(r.Header.Get("Accept"))
	if err != nil {
		writeError(w, codecError(err))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported by the connection"))
		return
	}
	streamID := uuid.NewString()
	var sub *subscription
	if doErr := m.do(r.Context(), func() { sub, err = m.subscribe(call.GetSubscribe(), streamID) }); doErr != nil {
		err = doErr
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Mesos-Stream-Id", streamID)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	rw := codec.NewRecordIOWriter(w, enc)
	heartbeat := time.NewTicker(m.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	hb := &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()}
	var batch []*scheduler.Event
	for {
		var closed bool
		batch, closed = sub.events.Take(batch)
		for _, ev := range batch {
			if err := rw.Write(ev); err != nil {
				m.post(func() { m.frameworkDisconnected(sub.frameworkID, streamID) })
				return
			}
		}
		if len(batch) > 0 {
			flusher.Flush()
		}
		if closed {
			return
		}
		select {
		case <-sub.events.Wake:
		case <-heartbeat.C:
			if err := rw.Write(hb); err != nil {
				m.post(func() { m.frameworkDisconnected(sub.frameworkID, streamID) })
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			m.post(func() { m.frameworkDisconnected(sub.frameworkID, streamID) })
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
	present := map[scheduler.Call_Type]struct {
		ok   bool
		name string
	}{
		scheduler.Call_ACCEPT:                       {c.Accept != nil, "accept"},
		scheduler.Call_DECLINE:                      {c.Decline != nil, "decline"},
		scheduler.Call_ACCEPT_INVERSE_OFFERS:        {c.AcceptInverseOffers != nil, "accept_inverse_offers"},
		scheduler.Call_DECLINE_INVERSE_OFFERS:       {c.DeclineInverseOffers != nil, "decline_inverse_offers"},
		scheduler.Call_KILL:                         {c.Kill != nil, "kill"},
		scheduler.Call_SHUTDOWN:                     {c.Shutdown != nil, "shutdown"},
		scheduler.Call_ACKNOWLEDGE:                  {c.Acknowledge != nil, "acknowledge"},
		scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS: {c.AcknowledgeOperationStatus != nil, "acknowledge_operation_status"},
		scheduler.Call_RECONCILE:                    {c.Reconcile != nil, "reconcile"},
		scheduler.Call_RECONCILE_OPERATIONS:         {c.ReconcileOperations != nil, "reconcile_operations"},
		scheduler.Call_MESSAGE:                      {c.Message != nil, "message"},
		scheduler.Call_REQUEST:                      {c.Request != nil, "request"},
		scheduler.Call_UPDATE_FRAMEWORK:             {c.UpdateFramework != nil, "update_framework"},
	}
	if p, ok := present[c.GetType()]; ok && !p.ok {
		return fmt.Errorf("Expecting '%s' to be present", p.name)
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
