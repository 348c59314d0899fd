package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	"golang.org/x/term"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
	"github.com/plateau/plateau/internal/client"
)

// runTaskExec is `plateau task exec [-i] [-t] ID -- CMD [ARG...]`: the
// command runs in a nested container of the task's container (the agent
// operator API's LAUNCH_NESTED_CONTAINER_SESSION, as `mesos task exec`
// does), with the task's sandbox and environment, and plateau exits with
// its exit code.
func runTaskExec(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("task exec", "task exec [-i] [-t] ID -- CMD [ARG...]", env)
	var f inspectFlags
	f.register(fs)
	interactive := fs.Bool("i", false, "attach standard input")
	tty := fs.Bool("t", false, "run the command in a terminal (with -i, make this one raw)")
	id, argv, err := parseWithID(fs, args, env)
	if err != nil {
		return err
	}
	if id == "" || len(argv) == 0 {
		return usageError{errors.New("plateau task exec [-i] [-t] ID -- CMD [ARG...]")}
	}
	p, err := locate(ctx, &f, id)
	if err != nil {
		return err
	}
	agent := &client.Agent{Addr: p.agentAddr}
	resp, err := agent.Call(ctx, &agentpb.Call{Type: agentpb.Call_GET_CONTAINERS.Enum()})
	if err != nil {
		return err
	}
	var parent *mesos.ContainerID
	for _, c := range resp.GetGetContainers().GetContainers() {
		if c.GetFrameworkId().GetValue() == p.frameworkID && c.GetExecutorId().GetValue() == p.executorID {
			parent = c.GetContainerId()
		}
	}
	if parent == nil {
		return exitCodeError{code: exitNotFound, err: fmt.Errorf("task %q has no running container", id)}
	}
	cid := &mesos.ContainerID{Value: proto.String(uuid.NewString()), Parent: parent}
	cmd := &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String(argv[0]), Arguments: argv}
	var ttyInfo *mesos.TTYInfo
	stdinFile, isFile := env.Stdin.(*os.File)
	var resize chan *mesos.TTYInfo
	if *tty {
		ttyInfo = &mesos.TTYInfo{}
		if isFile && term.IsTerminal(int(stdinFile.Fd())) {
			ttyInfo = terminalInfo(stdinFile)
			if *interactive {
				old, err := term.MakeRaw(int(stdinFile.Fd()))
				if err != nil {
					return err
				}
				defer term.Restore(int(stdinFile.Fd()), old)
				resize = make(chan *mesos.TTYInfo, 1)
				winch := make(chan os.Signal, 1)
				signal.Notify(winch, syscall.SIGWINCH)
				defer signal.Stop(winch)
				go func() {
					for range winch {
						select {
						case resize <- terminalInfo(stdinFile):
						default:
						}
					}
				}()
			}
		}
	}
	session, err := agent.LaunchSession(ctx, cid, cmd, ttyInfo)
	if err != nil {
		return err
	}
	defer session.Close()
	if *interactive && env.Stdin != nil {
		go func() {
			if err := agent.AttachInput(ctx, cid, env.Stdin, resize); err != nil && ctx.Err() == nil {
				fmt.Fprintln(env.Stderr, "plateau task exec: input:", err)
			}
		}()
	}
	for {
		pio, err := session.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if d := pio.GetData(); d != nil {
			if d.GetType() == agentpb.ProcessIO_Data_STDERR {
				env.Stderr.Write(d.GetData())
			} else {
				env.Stdout.Write(d.GetData())
			}
		}
	}
	wait, err := agent.Call(ctx, &agentpb.Call{Type: agentpb.Call_WAIT_NESTED_CONTAINER.Enum(),
		WaitNestedContainer: &agentpb.Call_WaitNestedContainer{ContainerId: cid}})
	if err != nil {
		return err
	}
	ws := syscall.WaitStatus(wait.GetWaitNestedContainer().GetExitStatus())
	switch {
	case ws.Signaled():
		return exitCodeError{code: 128 + int(ws.Signal())}
	case ws.ExitStatus() != 0:
		return exitCodeError{code: ws.ExitStatus()}
	}
	return nil
}

func terminalInfo(f *os.File) *mesos.TTYInfo {
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return &mesos.TTYInfo{}
	}
	return &mesos.TTYInfo{WindowSize: &mesos.TTYInfo_WindowSize{Rows: proto.Uint32(uint32(h)), Columns: proto.Uint32(uint32(w))}}
}
