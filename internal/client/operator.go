package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plateau/plateau/internal/api/codec"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/zk"
)

// Operator calls a master's v1 operator API.
type Operator struct {
	Master string // host:port
	HTTP   *http.Client
}

// Call makes a call and returns the master's response (nil for calls the
// master answers with 202 Accepted). Master may list several masters,
// "host:port,host:port": they are tried in turn until one answers, and a
// master that is not the leader's redirect (307) is followed; or it may be
// zk://host:port/path, where the leader is published.
func (o *Operator) Call(ctx context.Context, call *masterpb.Call) (*masterpb.Response, error) {
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		return nil, err
	}
	client := o.HTTP
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	masters, err := resolve(ctx, o.Master)
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	var lastErr error
	for _, m := range masters {
		for hops := 0; hops < 3; hops++ {
			resp, lastErr = o.post(ctx, client, m, body)
			if lastErr != nil || resp.StatusCode != http.StatusTemporaryRedirect {
				break
			}
			// Not the leader: its Location names the leader ("//host:port").
			loc := resp.Header.Get("Location")
			resp.Body.Close()
			m, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimPrefix(loc, "http:"), "//"), "/")
			resp = nil
		}
		if lastErr == nil && resp != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if resp == nil {
		return nil, fmt.Errorf("no master of %q answered", o.Master)
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

func (o *Operator) post(ctx context.Context, client *http.Client, master string, body []byte) (*http.Response, error) {
	m := strings.TrimSpace(master)
	if !strings.Contains(m, "://") {
		m = "http://" + m
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(m, "/")+"/api/v1", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	return client.Do(req)
}

// GetState is GET_STATE.
func (o *Operator) GetState(ctx context.Context) (*masterpb.Response_GetState, error) {
	r, err := o.Call(ctx, &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()})
	if err != nil {
		return nil, err
	}
	return r.GetGetState(), nil
}

// resolve lists the masters to try, in turn: the leader's host:port for
// a zk:// URL, else those of a "host:port,host:port" list.
func resolve(ctx context.Context, master string) ([]string, error) {
	if zk.IsURL(master) {
		leader, err := zk.Leader(ctx, master)
		if err != nil {
			return nil, fmt.Errorf("finding the leading master in %s: %w", master, err)
		}
		return []string{leader}, nil
	}
	masters := flagenv.List(master)
	if len(masters) == 0 {
		return nil, errors.New("no master given (host:port, a list of them, or zk://host:port/path)")
	}
	return masters, nil
}
