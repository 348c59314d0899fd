package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/agent"
	agentcalls "github.com/mesos/mesos-go/api/v1/lib/agent/calls"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/apierrors"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpagent"

	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

func agentOperator(addr string, codec encoding.Codec) agentcalls.Sender {
	return httpagent.NewSender(httpcli.New(httpcli.Endpoint("http://"+addr+"/api/v1"), httpcli.Codec(codec)).Send)
}

// executorContainer finds the container of a framework's executor with
// GET_CONTAINERS.
func executorContainer(t *testing.T, s agentcalls.Sender, executorID string) mesos.ContainerID {
	t.Helper()
	var found *mesos.ContainerID
	waitFor(t, "the executor's container", func() bool {
		resp, err := s.Send(context.Background(), agentcalls.NonStreaming(agentcalls.GetContainers()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		var r agent.Response
		if err := resp.Decode(&r); err != nil {
			t.Fatal(err)
		}
		for _, c := range r.GetGetContainers().Containers {
			if c.ExecutorID.Value == executorID {
				id := c.ContainerID
				found = &id
			}
		}
		return found != nil
	})
	return *found
}

// A session runs a command inside a running task's container: its output
// streams back, its input is attached, it runs in the task's sandbox, and
// WAIT_NESTED_CONTAINER gives its exit status; a session whose connection
// closes is killed.
func TestNestedContainerSession(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-nested"))
			offer := s.offer()
			s.call(launch(offer, commandTask("long", offer, "sleep 1000")))
			s.expectStates("long", mesos.TASK_STARTING, mesos.TASK_RUNNING)

			op := agentOperator(c.Agents[0].Addr(), codec)
			parent := executorContainer(t, op, "long")
			id := mesos.ContainerID{Value: "session-1", Parent: &parent}
			cmd := `read line; echo "got $line in $PWD"; echo "$line" > from-session; echo oops >&2; exit 3`
			resp, err := op.Send(context.Background(), agentcalls.NonStreaming(
				agentcalls.LaunchNestedContainerSession(id, &mesos.CommandInfo{Value: &cmd}, nil)))
			if err != nil {
				t.Fatalf("LAUNCH_NESTED_CONTAINER_SESSION: %v", err)
			}
			var stdout, stderr bytes.Buffer
			output := make(chan error, 1)
			go func() {
				defer resp.Close()
				for {
					var pio agent.ProcessIO
					if err := resp.Decode(&pio); err != nil {
						output <- err
						return
					}
					if d := pio.GetData(); d != nil {
						if d.GetType() == agent.ProcessIO_Data_STDERR {
							stderr.Write(d.Data)
						} else {
							stdout.Write(d.Data)
						}
					}
				}
			}()
			input := make(chan *agent.Call, 3)
			input <- agentcalls.AttachContainerInput(id)
			input <- agentcalls.AttachContainerInputData([]byte("hello\n"))
			input <- agentcalls.AttachContainerInputData(nil)
			close(input)
			if err := agentcalls.SendNoData(context.Background(), op, agentcalls.FromChan(input)); err != nil {
				t.Fatalf("ATTACH_CONTAINER_INPUT: %v", err)
			}
			select {
			case <-output:
			case <-time.After(eventTimeout):
				t.Fatal("the session's output did not end")
			}
			sandbox := ""
			waitFor(t, "the task's sandbox", func() bool {
				sandbox, _ = filepath.EvalSymlinks(filepath.Join(c.Agents[0].WorkDir(), "slaves", offer.AgentID.Value, "frameworks", s.id, "executors", "long", "runs", "latest"))
				return sandbox != ""
			})
			if got := stdout.String(); got != "got hello in "+sandbox+"\n" {
				t.Fatalf("stdout %q, want the input echoed from the sandbox %s", got, sandbox)
			}
			if stderr.String() != "oops\n" {
				t.Fatalf("stderr %q", stderr.String())
			}
			if status := waitNested(t, op, id); status != 3<<8 {
				t.Fatalf("exit status %#x, want exit code 3", status)
			}

			// The file it wrote is in the sandbox: LIST_FILES and READ_FILE.
			sandboxPath := client.SandboxPath(s.id, "long")
			resp4, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.ListFiles(sandboxPath)))
			if err != nil {
				t.Fatalf("LIST_FILES: %v", err)
			}
			var listed agent.Response
			if err := resp4.Decode(&listed); err != nil {
				t.Fatal(err)
			}
			resp4.Close()
			names := map[string]bool{}
			for _, fi := range listed.GetListFiles().FileInfos {
				names[filepath.Base(fi.Path)] = true
			}
			if !names["from-session"] || !names["stdout"] || !names["stderr"] {
				t.Fatalf("LIST_FILES %s: %v", sandboxPath, names)
			}
			resp5, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.ReadFile(sandboxPath+"/from-session", 0)))
			if err != nil {
				t.Fatalf("READ_FILE: %v", err)
			}
			var read agent.Response
			if err := resp5.Decode(&read); err != nil {
				t.Fatal(err)
			}
			resp5.Close()
			if string(read.GetReadFile().Data) != "hello\n" || read.GetReadFile().Size_ != 6 {
				t.Fatalf("READ_FILE: %q (size %d)", read.GetReadFile().Data, read.GetReadFile().Size_)
			}
			if _, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.ReadFile(sandboxPath+"/nothing", 0))); !apierrors.CodeNotFound.Matches(err) {
				t.Fatalf("READ_FILE of a missing file: %v, want 404", err)
			}

			// A session whose client goes away is killed.
			id2 := mesos.ContainerID{Value: "session-2", Parent: &parent}
			sleep := "sleep 1000"
			resp2, err := op.Send(context.Background(), agentcalls.NonStreaming(
				agentcalls.LaunchNestedContainerSession(id2, &mesos.CommandInfo{Value: &sleep}, nil)))
			if err != nil {
				t.Fatal(err)
			}
			resp2.Close()
			if status := waitNested(t, op, id2); syscall.WaitStatus(status).Signal() != syscall.SIGKILL {
				t.Fatalf("a closed session's container ended with %#x, want SIGKILL", status)
			}

			// With tty_info, the command runs in a terminal.
			id3 := mesos.ContainerID{Value: "session-3", Parent: &parent}
			ttyCmd := "tty"
			resp3, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.LaunchNestedContainerSession(id3,
				&mesos.CommandInfo{Value: &ttyCmd}, &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), TTYInfo: &mesos.TTYInfo{}})))
			if err != nil {
				t.Fatal(err)
			}
			var ttyOut bytes.Buffer
			for {
				var pio agent.ProcessIO
				if resp3.Decode(&pio) != nil {
					break
				}
				ttyOut.Write(pio.GetData().GetData())
			}
			resp3.Close()
			if !strings.HasPrefix(ttyOut.String(), "/dev/pts/") {
				t.Fatalf("tty in a session with tty_info: %q", ttyOut.String())
			}

			// Unknown containers and parents are errors.
			bad := mesos.ContainerID{Value: "x", Parent: &mesos.ContainerID{Value: "no-such-container"}}
			if _, err := op.Send(context.Background(), agentcalls.NonStreaming(
				agentcalls.LaunchNestedContainerSession(bad, &mesos.CommandInfo{Value: &sleep}, nil))); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("a session in an unknown parent: %v", err)
			}
		})
	}
}

func waitNested(t *testing.T, op agentcalls.Sender, id mesos.ContainerID) int32 {
	t.Helper()
	resp, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.WaitNestedContainer(id)))
	if err != nil {
		t.Fatalf("WAIT_NESTED_CONTAINER: %v", err)
	}
	defer resp.Close()
	var r agent.Response
	if err := resp.Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.GetWaitNestedContainer().GetExitStatus()
}

// The agent operator API's other calls, in both encodings: logging level,
// operations and resource providers (none), and a standalone container.
func TestAgentOperatorCalls(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			op := agentOperator(c.Agents[0].Addr(), codec)
			call := func(c *agent.Call) *agent.Response {
				t.Helper()
				resp, err := op.Send(context.Background(), agentcalls.NonStreaming(c))
				if err != nil {
					t.Fatalf("%v: %v", c.Type, err)
				}
				defer resp.Close()
				var r agent.Response
				if err := resp.Decode(&r); err != nil {
					t.Fatalf("%v: %v", c.Type, err)
				}
				return &r
			}
			if err := agentcalls.SendNoData(context.Background(), op, agentcalls.NonStreaming(agentcalls.SetLoggingLevel(1, 0))); err != nil {
				t.Fatalf("SET_LOGGING_LEVEL: %v", err)
			}
			if l := call(agentcalls.GetLoggingLevel()).GetGetLoggingLevel().Level; l != 1 {
				t.Fatalf("GET_LOGGING_LEVEL after setting 1: %d", l)
			}
			if ops := call(agentcalls.GetOperations()).GetGetOperations(); ops == nil || len(ops.Operations) != 0 {
				t.Fatalf("GET_OPERATIONS: %v", ops)
			}
			if rps := call(agentcalls.GetResourceProviders()).GetGetResourceProviders(); rps == nil || len(rps.ResourceProviders) != 0 {
				t.Fatalf("GET_RESOURCE_PROVIDERS: %v", rps)
			}

			id := mesos.ContainerID{Value: "standalone"}
			cmd := "echo standalone > marker; exit 4"
			if err := agentcalls.SendNoData(context.Background(), op, agentcalls.NonStreaming(
				agentcalls.LaunchContainer(id, &mesos.CommandInfo{Value: &cmd}, nil, nil))); err != nil {
				t.Fatalf("LAUNCH_CONTAINER: %v", err)
			}
			if st := call(agentcalls.WaitContainer(id)).GetWaitContainer().GetExitStatus(); st != 4<<8 {
				t.Fatalf("WAIT_CONTAINER: %#x, want exit code 4", st)
			}
			if err := agentcalls.SendNoData(context.Background(), op, agentcalls.NonStreaming(agentcalls.RemoveContainer(id))); err != nil {
				t.Fatalf("REMOVE_CONTAINER: %v", err)
			}
			if _, err := op.Send(context.Background(), agentcalls.NonStreaming(agentcalls.WaitContainer(id))); !apierrors.CodeNotFound.Matches(err) {
				t.Fatalf("WAIT_CONTAINER after REMOVE_CONTAINER: %v, want 404", err)
			}
		})
	}
}
