// Package client is a Go client for Mesos's v1 HTTP APIs, used by Plateau's
// own CLI and frameworks. It talks to any Mesos-compatible master.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

// Scheduler opens scheduler API sessions with a master.
type Scheduler struct {
	// Master is the master's host:port, or several masters'
	// host:port,host:port: Subscribe tries them in turn, a standby's
	// redirect leads to the leader, and the calls go where the
	// subscription was made.
	Master string
	// HTTP defaults to a client without timeouts (event streams are long).
	HTTP *http.Client
	// Codec defaults to protobuf.
	Codec codec.Codec
}

func (s *Scheduler) httpClient() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return http.DefaultClient
}

func (s *Scheduler) codec() codec.Codec {
	if s.Codec != nil {
		return s.Codec
	}
	return codec.Protobuf
}

func (s *Scheduler) url() string {
	m := s.Master
	if !strings.Contains(m, "://") {
		m = "http://" + m
	}
	return strings.TrimSuffix(m, "/") + "/api/v1/scheduler"
}

// Subscription is a subscribed framework's session: its event stream and
// the calls made on its behalf.
type Subscription struct {
	s           *Scheduler
	FrameworkID *mesos.FrameworkID
	// Subscribed is the SUBSCRIBED event.
	Subscribed *scheduler.Event_Subscribed
	streamID   string
	body       io.ReadCloser
	events     *codec.RecordIOReader
}

// Subscribe subscribes a framework (re-subscribes it when info.id is set)
// and waits for SUBSCRIBED.
func (s *Scheduler) Subscribe(ctx context.Context, info *mesos.FrameworkInfo) (*Subscription, error) {
	call := &scheduler.Call{
		Type:        scheduler.Call_SUBSCRIBE.Enum(),
		FrameworkId: info.GetId(),
		Subscribe:   &scheduler.Call_Subscribe{FrameworkInfo: info},
	}
	masters, err := resolve(ctx, s.Master)
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	for _, m := range masters {
		one := *s
		one.Master = m
		if resp, err = one.post(ctx, call, ""); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	// Calls go to the master that took the subscription (after any
	// redirect to the leader).
	leader := *s
	leader.Master = resp.Request.URL.Host
	sub := &Subscription{s: &leader, streamID: resp.Header.Get("Mesos-Stream-Id"), body: resp.Body,
		events: codec.NewRecordIOReader(resp.Body, s.codec())}
	ev, err := sub.Next()
	if err != nil {
		sub.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if ev.GetType() != scheduler.Event_SUBSCRIBED {
		sub.Close()
		if ev.GetType() == scheduler.Event_ERROR {
			return nil, fmt.Errorf("subscribe: %s", ev.GetError().GetMessage())
		}
		return nil, fmt.Errorf("subscribe: first event is %s, not SUBSCRIBED", ev.GetType())
	}
	sub.Subscribed = ev.GetSubscribed()
	sub.FrameworkID = ev.GetSubscribed().GetFrameworkId()
	return sub, nil
}

// Next returns the next event; io.EOF when the master ended the stream.
func (sub *Subscription) Next() (*scheduler.Event, error) {
	ev := &scheduler.Event{}
	if err := sub.events.Read(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// Close ends the event stream (the master sees the scheduler disconnect).
func (sub *Subscription) Close() error { return sub.body.Close() }

// Call makes a call for the subscribed framework.
func (sub *Subscription) Call(ctx context.Context, call *scheduler.Call) error {
	call.FrameworkId = sub.FrameworkID
	resp, err := sub.s.post(ctx, call, sub.streamID)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func (s *Scheduler) post(ctx context.Context, call *scheduler.Call, streamID string) (*http.Response, error) {
	c := s.codec()
	body, err := c.Marshal(call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c.ContentType())
	req.Header.Set("Accept", c.ContentType())
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	return s.httpClient().Do(req)
}

// APIError is a non-success answer from a master or an agent.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("answered %d: %s", e.Status, e.Message) }

func responseError(resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &APIError{Status: resp.StatusCode, Message: string(bytes.TrimSpace(msg))}
}

// IsStatus reports whether err is an APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// Calls.

// Accept launches tasks on offers.
func Accept(offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, refuseSeconds float64) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_ACCEPT.Enum(), Accept: &scheduler.Call_Accept{
		OfferIds: offerIDs, Operations: ops, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuseSeconds)}}}
}

// Launch is a LAUNCH operation.
func Launch(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

// Decline declines offers for refuseSeconds.
func Decline(offerIDs []*mesos.OfferID, refuseSeconds float64) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_DECLINE.Enum(), Decline: &scheduler.Call_Decline{
		OfferIds: offerIDs, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuseSeconds)}}}
}

// Acknowledge acknowledges a status update.
func Acknowledge(status *mesos.TaskStatus) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE.Enum(), Acknowledge: &scheduler.Call_Acknowledge{
		AgentId: status.GetAgentId(), TaskId: status.GetTaskId(), Uuid: status.GetUuid()}}
}

// Kill kills a task.
func Kill(taskID *mesos.TaskID, agentID *mesos.AgentID) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_KILL.Enum(), Kill: &scheduler.Call_Kill{TaskId: taskID, AgentId: agentID}}
}

// Suppress stops offers.
func Suppress() *scheduler.Call { return &scheduler.Call{Type: scheduler.Call_SUPPRESS.Enum()} }

// Teardown ends the framework.
func Teardown() *scheduler.Call { return &scheduler.Call{Type: scheduler.Call_TEARDOWN.Enum()} }
