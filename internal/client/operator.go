package client

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/plateau/plateau/internal/api/codec"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
)

// Operator calls a master's v1 operator API.
type Operator struct {
	Master string // host:port
	HTTP   *http.Client
}

// Call makes a call and returns the master's response (nil for calls the
// master answers with 202 Accepted).
func (o *Operator) Call(ctx context.Context, call *masterpb.Call) (*masterpb.Response, error) {
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		return nil, err
	}
	m := o.Master
	if !strings.Contains(m, "://") {
		m = "http://" + m
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(m, "/")+"/api/v1", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	client := o.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, responseError(resp)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	out := &masterpb.Response{}
	if err := codec.Protobuf.Unmarshal(buf.Bytes(), out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetState is GET_STATE.
func (o *Operator) GetState(ctx context.Context) (*masterpb.Response_GetState, error) {
	r, err := o.Call(ctx, &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()})
	if err != nil {
		return nil, err
	}
	return r.GetGetState(), nil
}
