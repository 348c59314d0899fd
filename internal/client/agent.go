package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
)

// Agent calls an agent's v1 operator API.
type Agent struct {
	Addr string // host:port
	HTTP *http.Client
}

func (a *Agent) url() string {
	if strings.Contains(a.Addr, "://") {
		return strings.TrimSuffix(a.Addr, "/") + "/api/v1"
	}
	return "http://" + a.Addr + "/api/v1"
}

func (a *Agent) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return http.DefaultClient
}

// post sends a call in protobuf; streamed asks for a RecordIO answer.
func (a *Agent) post(ctx context.Context, call *agentpb.Call, streamed bool) (*http.Response, error) {
	body, err := proto.Marshal(call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	if streamed {
		req.Header.Set("Accept", "application/recordio")
		req.Header.Set("Message-Accept", codec.MediaTypeProtobuf)
	}
	return a.client().Do(req)
}

// Call makes a call; the response is nil for calls answered without a body.
func (a *Agent) Call(ctx context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	resp, err := a.post(ctx, call, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return nil, responseError(resp)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	out := &agentpb.Response{}
	return out, proto.Unmarshal(b, out)
}

// Session is a LAUNCH_NESTED_CONTAINER_SESSION's output stream.
type Session struct {
	body io.ReadCloser
	rr   *codec.RecordIOReader
}

// LaunchSession starts a command in a nested container of parent and
// returns its output stream. The container is killed when the session
// is closed before the command ends.
func (a *Agent) LaunchSession(ctx context.Context, id *mesos.ContainerID, cmd *mesos.CommandInfo, tty *mesos.TTYInfo) (*Session, error) {
	call := &agentpb.Call{Type: agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION.Enum(),
		LaunchNestedContainerSession: &agentpb.Call_LaunchNestedContainerSession{ContainerId: id, Command: cmd}}
	if tty != nil {
		call.LaunchNestedContainerSession.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), TtyInfo: tty}
	}
	resp, err := a.post(ctx, call, true)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return &Session{body: resp.Body, rr: codec.NewRecordIOReader(resp.Body, codec.Protobuf)}, nil
}

// Next returns the next piece of output; io.EOF at the end.
func (s *Session) Next() (*agentpb.ProcessIO, error) {
	pio := &agentpb.ProcessIO{}
	if err := s.rr.Read(pio); err != nil {
		return nil, err
	}
	return pio, nil
}

// Close ends the session.
func (s *Session) Close() error { return s.body.Close() }

// AttachInput streams in to a nested container's standard input
// (ATTACH_CONTAINER_INPUT) until in ends, then closes the container's
// input. resize, when not nil, carries terminal size changes.
func (a *Agent) AttachInput(ctx context.Context, id *mesos.ContainerID, in io.Reader, resize <-chan *mesos.TTYInfo) error {
	pr, pw := io.Pipe()
	go func() {
		w := codec.NewRecordIOWriter(pw, codec.Protobuf)
		send := func(c *agentpb.Call_AttachContainerInput) error {
			return w.Write(&agentpb.Call{Type: agentpb.Call_ATTACH_CONTAINER_INPUT.Enum(), AttachContainerInput: c})
		}
		data := func(b []byte) error {
			return send(&agentpb.Call_AttachContainerInput{Type: agentpb.Call_AttachContainerInput_PROCESS_IO.Enum(),
				ProcessIo: &agentpb.ProcessIO{Type: agentpb.ProcessIO_DATA.Enum(), Data: &agentpb.ProcessIO_Data{
					Type: agentpb.ProcessIO_Data_STDIN.Enum(), Data: b}}})
		}
		err := send(&agentpb.Call_AttachContainerInput{Type: agentpb.Call_AttachContainerInput_CONTAINER_ID.Enum(), ContainerId: id})
		chunks := make(chan []byte)
		readErr := make(chan error, 1)
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := in.Read(buf)
				if n > 0 {
					chunks <- append([]byte(nil), buf[:n]...)
				}
				if err != nil {
					readErr <- err
					return
				}
			}
		}()
		for err == nil {
			select {
			case b := <-chunks:
				err = data(b)
			case t := <-resize:
				err = send(&agentpb.Call_AttachContainerInput{Type: agentpb.Call_AttachContainerInput_PROCESS_IO.Enum(),
					ProcessIo: &agentpb.ProcessIO{Type: agentpb.ProcessIO_CONTROL.Enum(), Control: &agentpb.ProcessIO_Control{
						Type: agentpb.ProcessIO_Control_TTY_INFO.Enum(), TtyInfo: t}}})
			case e := <-readErr:
				if errors.Is(e, io.EOF) {
					err = data(nil) // the end of the input
				}
				if err == nil {
					err = io.EOF
				}
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url(), pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/recordio")
	req.Header.Set("Message-Content-Type", codec.MediaTypeProtobuf)
	resp, err := a.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	return nil
}
