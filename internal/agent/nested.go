package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
	"github.com/plateau/plateau/internal/containerizer"
	"github.com/plateau/plateau/internal/httpapi"
)

// Nested containers: the agent operator API's LAUNCH_NESTED_CONTAINER(_SESSION),
// ATTACH_CONTAINER_INPUT/OUTPUT, WAIT_ and KILL_NESTED_CONTAINER, which
// `mesos task exec` and `plateau task exec` use to run a command inside a
// running task's container. A nested container runs in its parent's
// sandbox with the parent's environment, joins the parent's cgroups and,
// when the parent has its own pid and mount namespaces, enters them. A
// session's output streams back on the launching request, and the
// container is killed when that connection ends, as in Mesos.

// nestedContainer is one nested container. Its fields after start are
// guarded by mu, except done and status (set once, before done closes).
type nestedContainer struct {
	id, parentID string
	cmd          *exec.Cmd
	session      bool
	standalone   bool // LAUNCH_CONTAINER without a parent

	mu    sync.Mutex
	stdin io.WriteCloser // the pty master when tty
	tty   *os.File
	subs  map[*outputSub]struct{}

	done   chan struct{}
	status int
}

type outputSub struct {
	ch   chan *agentpb.ProcessIO
	gone chan struct{}
}

// launchNested starts a nested container. Runs off the loop; the parent
// is looked up on it.
//
// The returned subscription has the container's output from its start.
func (a *Agent) launchNested(ctx context.Context, id *mesos.ContainerID, command *mesos.CommandInfo, info *mesos.ContainerInfo, session bool) (*nestedContainer, *outputSub, error) {
	standalone := id.GetParent() == nil && !session
	if id.GetValue() == "" || (!standalone && id.GetParent().GetValue() == "") {
		return nil, nil, httpapi.BadRequest("Expecting 'container_id' with a 'parent' (a nested container ID)")
	}
	if command == nil {
		return nil, nil, httpapi.BadRequest("Expecting 'command' to be present")
	}
	var parent *executorRun
	var env []string
	var dup bool
	if err := a.do(ctx, func() {
		_, dup = a.nested[id.GetValue()]
		if standalone {
			return
		}
		parent = a.containerByID(id.GetParent().GetValue())
		if parent != nil {
			env = a.executorEnv(parent)
		}
	}); err != nil {
		return nil, nil, err
	}
	switch {
	case dup:
		return nil, nil, httpapi.BadRequest("Container %s already exists", id.GetValue())
	case standalone:
		// A standalone container (LAUNCH_CONTAINER without a parent) gets a
		// sandbox of its own under the work dir.
		dir := filepath.Join(a.cfg.WorkDir, "containers", id.GetValue())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, err
		}
		parent = &executorRun{directory: dir}
		env = append(os.Environ(), "MESOS_SANDBOX="+dir, "MESOS_DIRECTORY="+dir)
	case parent == nil:
		return nil, nil, httpapi.BadRequest("Parent container %s not found", id.GetParent().GetValue())
	}
	argv := []string{command.GetValue()}
	if command.GetShell() {
		argv = []string{"/bin/sh", "-c", command.GetValue()}
	} else if len(command.GetArguments()) > 0 {
		// value is the program; arguments are its argv, argv[0] included.
		argv = append([]string{command.GetValue()}, command.GetArguments()[1:]...)
	}
	entering := (a.pidNamespace || a.mountNamespace) && !standalone
	if entering {
		// Enter the parent's namespaces, so that the command sees what
		// the task sees.
		nsenter, err := exec.LookPath("nsenter")
		if err != nil {
			return nil, nil, httpapi.Errorf(http.StatusInternalServerError, "nsenter (util-linux) is needed to enter a container's namespaces: %v", err)
		}
		prefix := []string{nsenter, "--target", strconv.Itoa(parent.container.Pid()), "--mount"}
		if a.pidNamespace {
			prefix = append(prefix, "--pid")
		}
		argv = append(append(prefix, "--"), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if !command.GetShell() && len(command.GetArguments()) > 0 && !entering {
		cmd.Args = command.GetArguments()
	}
	cmd.Dir = parent.directory
	cmd.Env = append(env, "MESOS_CONTAINER_ID="+id.GetValue())
	for _, v := range command.GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			cmd.Env = append(cmd.Env, v.GetName()+"="+v.GetValue())
		}
	}
	n := &nestedContainer{id: id.GetValue(), parentID: id.GetParent().GetValue(), cmd: cmd, session: session, standalone: standalone,
		subs: map[*outputSub]struct{}{}, done: make(chan struct{})}
	var outputs []io.Reader
	if tty := info.GetTtyInfo(); tty != nil {
		f, err := pty.StartWithSize(cmd, windowSize(tty))
		if err != nil {
			return nil, nil, httpapi.Errorf(http.StatusInternalServerError, "launching nested container: %v", err)
		}
		n.tty, n.stdin = f, f
		outputs = []io.Reader{f}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		stdin, err1 := cmd.StdinPipe()
		stdout, err2 := cmd.StdoutPipe()
		stderr, err3 := cmd.StderrPipe()
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, httpapi.Errorf(http.StatusInternalServerError, "launching nested container: %v", err)
		}
		n.stdin = stdin
		outputs = []io.Reader{stdout, stderr}
	}
	if j, ok := parent.container.(containerizer.Joinable); ok && !standalone {
		if err := j.Join(cmd.Process.Pid); err != nil {
			a.log.Warn("nested container not in its parent's cgroups", "container", n.id, "err", err)
		}
	}
	first := n.subscribe()
	var readers sync.WaitGroup
	for i, r := range outputs {
		kind := agentpb.ProcessIO_Data_STDOUT
		if i == 1 {
			kind = agentpb.ProcessIO_Data_STDERR
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			n.pump(r, kind)
		}()
	}
	go func() {
		readers.Wait() // output first, so that subscribers see all of it
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			n.status = int(ws)
		}
		if n.tty != nil {
			n.tty.Close()
		}
		close(n.done)
	}()
	if err := a.do(context.Background(), func() { a.nested[n.id] = n }); err != nil {
		n.kill(syscall.SIGKILL)
		n.unsubscribe(first)
		return nil, nil, err
	}
	a.log.Info("launched nested container", "container", n.id, "parent", n.parentID, "session", session, "argv", argv)
	return n, first, nil
}

func windowSize(t *mesos.TTYInfo) *pty.Winsize {
	ws := t.GetWindowSize()
	if ws == nil {
		return &pty.Winsize{Rows: 24, Cols: 80}
	}
	return &pty.Winsize{Rows: uint16(ws.GetRows()), Cols: uint16(ws.GetColumns())}
}

// containerByID finds a running executor container. Runs on the loop.
func (a *Agent) containerByID(id string) *executorRun {
	for _, fw := range a.frameworks {
		for _, e := range fw.executors {
			if e.containerID == id && e.container != nil && !e.terminated {
				return e
			}
		}
	}
	return nil
}

// pump copies one output stream to the subscribers. A pty's master reads
// EIO once the terminal's last process is gone: that is its end.
func (n *nestedContainer) pump(r io.Reader, kind agentpb.ProcessIO_Data_Type) {
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n.publish(&agentpb.ProcessIO{Type: agentpb.ProcessIO_DATA.Enum(), Data: &agentpb.ProcessIO_Data{
				Type: kind.Enum(), Data: append([]byte(nil), buf[:k]...)}})
		}
		if err != nil {
			return
		}
	}
}

func (n *nestedContainer) publish(io *agentpb.ProcessIO) {
	n.mu.Lock()
	subs := make([]*outputSub, 0, len(n.subs))
	for s := range n.subs {
		subs = append(subs, s)
	}
	n.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- io:
		case <-s.gone:
		}
	}
}

func (n *nestedContainer) subscribe() *outputSub {
	s := &outputSub{ch: make(chan *agentpb.ProcessIO, 64), gone: make(chan struct{})}
	n.mu.Lock()
	n.subs[s] = struct{}{}
	n.mu.Unlock()
	return s
}

func (n *nestedContainer) unsubscribe(s *outputSub) {
	n.mu.Lock()
	delete(n.subs, s)
	n.mu.Unlock()
	close(s.gone)
}

func (n *nestedContainer) kill(sig syscall.Signal) {
	if p := n.cmd.Process; p != nil {
		if err := syscall.Kill(-p.Pid, sig); err != nil {
			_ = p.Signal(sig)
		}
	}
}

// streamOutput writes the container's output as RecordIO ProcessIO
// records until it ends or the client goes away.
func streamOutput(w http.ResponseWriter, r *http.Request, enc codec.Codec, n *nestedContainer, s *outputSub) {
	defer n.unsubscribe(s)
	w.Header().Set("Content-Type", "application/recordio")
	w.Header().Set("Message-Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordIOWriter(w, enc)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	for {
		select {
		case io := <-s.ch:
			if rw.Write(io) != nil {
				return
			}
			flush()
		case <-n.done:
			// Drain what the pumps published before the end.
			for {
				select {
				case io := <-s.ch:
					if rw.Write(io) != nil {
						return
					}
				default:
					flush()
					return
				}
			}
		case <-r.Context().Done():
			return
		}
	}
}

// serveLaunchSession is LAUNCH_NESTED_CONTAINER_SESSION: the output
// streams back; the container dies with the connection.
func (a *Agent) serveLaunchSession(w http.ResponseWriter, r *http.Request, enc codec.Codec, c *agentpb.Call_LaunchNestedContainerSession) {
	if c == nil {
		httpapi.WriteError(w, httpapi.BadRequest("Expecting 'launch_nested_container_session' to be present"))
		return
	}
	n, s, err := a.launchNested(r.Context(), c.GetContainerId(), c.GetCommand(), c.GetContainer(), true)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	streamOutput(w, r, enc, n, s)
	select {
	case <-n.done:
	default:
		a.log.Info("session connection closed: killing its nested container", "container", n.id)
		n.kill(syscall.SIGKILL)
	}
}

// serveAttachOutput is ATTACH_CONTAINER_OUTPUT.
func (a *Agent) serveAttachOutput(w http.ResponseWriter, r *http.Request, enc codec.Codec, c *agentpb.Call_AttachContainerOutput) {
	n, err := a.nestedByID(r.Context(), c.GetContainerId().GetValue())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	streamOutput(w, r, enc, n, n.subscribe())
}

func (a *Agent) nestedByID(ctx context.Context, id string) (*nestedContainer, error) {
	if id == "" {
		return nil, httpapi.BadRequest("Expecting 'container_id' to be present")
	}
	var n *nestedContainer
	if err := a.do(ctx, func() { n = a.nested[id] }); err != nil {
		return nil, err
	}
	if n == nil {
		return nil, httpapi.Errorf(http.StatusNotFound, "Container %s not found", id)
	}
	return n, nil
}

// serveAttachInput is ATTACH_CONTAINER_INPUT: a RecordIO stream of calls,
// the first naming the container, the next carrying its input. An empty
// STDIN record is the end of the input.
func (a *Agent) serveAttachInput(w http.ResponseWriter, r *http.Request) {
	msgCodec, err := codec.ForContentType(r.Header.Get("Message-Content-Type"))
	if err != nil {
		httpapi.WriteError(w, httpapi.BadRequest("Expecting 'Message-Content-Type' to name the encoding of the streamed calls: %v", err))
		return
	}
	rr := codec.NewRecordIOReader(r.Body, msgCodec)
	first := &agentpb.Call{}
	if err := rr.Read(first); err != nil {
		httpapi.WriteError(w, httpapi.BadRequest("Failed to read the first call: %v", err))
		return
	}
	in := first.GetAttachContainerInput()
	if first.GetType() != agentpb.Call_ATTACH_CONTAINER_INPUT || in.GetType() != agentpb.Call_AttachContainerInput_CONTAINER_ID {
		httpapi.WriteError(w, httpapi.BadRequest("Expecting the first call to be ATTACH_CONTAINER_INPUT with a 'container_id'"))
		return
	}
	n, err := a.nestedByID(r.Context(), in.GetContainerId().GetValue())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	for {
		call := &agentpb.Call{}
		if err := rr.Read(call); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			httpapi.WriteError(w, httpapi.BadRequest("Failed to read a call: %v", err))
			return
		}
		pio := call.GetAttachContainerInput().GetProcessIo()
		switch {
		case pio.GetType() == agentpb.ProcessIO_DATA && pio.GetData().GetType() == agentpb.ProcessIO_Data_STDIN:
			n.mu.Lock()
			if len(pio.GetData().GetData()) == 0 {
				if n.tty != nil {
					_, _ = n.stdin.Write([]byte{4}) // ^D: end of input on a terminal
				} else {
					_ = n.stdin.Close()
				}
			} else {
				_, _ = n.stdin.Write(pio.GetData().GetData())
			}
			n.mu.Unlock()
		case pio.GetType() == agentpb.ProcessIO_CONTROL && pio.GetControl().GetType() == agentpb.ProcessIO_Control_TTY_INFO:
			if n.tty != nil {
				_ = pty.Setsize(n.tty, windowSize(pio.GetControl().GetTtyInfo()))
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// waitNested is WAIT_NESTED_CONTAINER and WAIT_CONTAINER for nested
// containers.
func (a *Agent) waitNested(ctx context.Context, id string) (*agentpb.Response_WaitNestedContainer, error) {
	n, err := a.nestedByID(ctx, id)
	if err != nil {
		return nil, err
	}
	select {
	case <-n.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &agentpb.Response_WaitNestedContainer{ExitStatus: proto.Int32(int32(n.status))}, nil
}

// killNested is KILL_NESTED_CONTAINER and KILL_CONTAINER (SIGKILL unless
// a signal is given).
func (a *Agent) killNested(ctx context.Context, id string, signal int32) error {
	n, err := a.nestedByID(ctx, id)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if signal > 0 {
		sig = syscall.Signal(signal)
	}
	n.kill(sig)
	return nil
}

// removeNested is REMOVE_NESTED_CONTAINER: a finished container is
// forgotten.
func (a *Agent) removeNested(ctx context.Context, id string) error {
	n, err := a.nestedByID(ctx, id)
	if err != nil {
		return err
	}
	select {
	case <-n.done:
	default:
		return httpapi.BadRequest("Container %s is still running", id)
	}
	return a.do(ctx, func() { delete(a.nested, id) })
}

// launchNestedDetached is LAUNCH_NESTED_CONTAINER (and LAUNCH_CONTAINER):
// the output goes to stdout and stderr files in the container's own
// sandbox, <parent sandbox>/containers/<id> for a nested one, as in Mesos.
func (a *Agent) launchNestedDetached(ctx context.Context, c *agentpb.Call_LaunchNestedContainer) error {
	if c == nil {
		return httpapi.BadRequest("Expecting 'launch_nested_container' to be present")
	}
	n, s, err := a.launchNested(ctx, c.GetContainerId(), c.GetCommand(), c.GetContainer(), false)
	if err != nil {
		return err
	}
	dir := filepath.Join(n.cmd.Dir, "containers", n.id)
	if n.standalone {
		dir = n.cmd.Dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	go func() {
		defer n.unsubscribe(s)
		stdout, _ := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		stderr, _ := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		defer stdout.Close()
		defer stderr.Close()
		write := func(io *agentpb.ProcessIO) {
			f := stdout
			if io.GetData().GetType() == agentpb.ProcessIO_Data_STDERR {
				f = stderr
			}
			_, _ = f.Write(io.GetData().GetData())
		}
		for {
			select {
			case io := <-s.ch:
				write(io)
			case <-n.done:
				for {
					select {
					case io := <-s.ch:
						write(io)
					default:
						return
					}
				}
			}
		}
	}()
	_ = n.stdin.Close()
	return nil
}

// killNestedOf kills the nested containers of a parent that ended. Runs
// on the loop.
func (a *Agent) killNestedOf(parentID string) {
	for id, n := range a.nested {
		if n.parentID == parentID {
			n.kill(syscall.SIGKILL)
			delete(a.nested, id)
		}
	}
}
