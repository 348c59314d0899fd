package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/resources"
)

// runRun runs one command as a task of its own framework, streams its
// output and exits with its exit code, like mesos-execute.
func runRun(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("run", "run [flags] -- COMMAND [ARGS...]", env)
	master := fs.String("master", "127.0.0.1:5050", "the master's host:port")
	name := fs.String("name", "plateau-run", "framework and task name")
	cpus := fs.Float64("cpus", 0.1, "CPUs for the task")
	mem := fs.Float64("mem", 32, "memory for the task, in MB")
	disk := fs.Float64("disk", 0, "disk for the task, in MB")
	role := fs.String("role", "*", "role to run the task in")
	var envVars stringList
	fs.Var(&envVars, "env", "environment variable KEY=VALUE for the task (repeatable)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usageError{errors.New("no command given: plateau run [flags] -- COMMAND [ARGS...]")}
	}
	need, err := resources.Parse(fmt.Sprintf("cpus:%g;mem:%g;disk:%g", *cpus, *mem, *disk), "*")
	if err != nil {
		return usageError{err}
	}
	cmd := &mesos.CommandInfo{}
	if len(argv) == 1 {
		cmd.Shell, cmd.Value = proto.Bool(true), proto.String(argv[0])
	} else {
		cmd.Shell, cmd.Value, cmd.Arguments = proto.Bool(false), proto.String(argv[0]), argv
	}
	if len(envVars) > 0 {
		cmd.Environment = &mesos.Environment{}
		for _, kv := range envVars {
			k, v, _ := strings.Cut(kv, "=")
			cmd.Environment.Variables = append(cmd.Environment.Variables, &mesos.Environment_Variable{Name: proto.String(k), Value: proto.String(v)})
		}
	}
	// Progress messages and the task's streamed output share the writers.
	var mu sync.Mutex
	env.Stdout, env.Stderr = &lockedWriter{mu: &mu, w: env.Stdout}, &lockedWriter{mu: &mu, w: env.Stderr}
	r := &runner{env: env, need: need, cmd: cmd, name: *name, role: *role,
		taskID: "run-" + uuid.NewString()[:8], sched: &client.Scheduler{Master: *master}}
	return r.run(ctx)
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var _ flag.Value = (*stringList)(nil)

type runner struct {
	env    Env
	sched  *client.Scheduler
	need   resources.Resources
	cmd    *mesos.CommandInfo
	name   string
	role   string
	taskID string

	sub      *client.Subscription
	agentID  *mesos.AgentID
	agentURL string // host:port of the task's agent
	tails    sync.WaitGroup
	stopTail chan struct{}
}

func (r *runner) run(ctx context.Context) error {
	username := "root"
	if u, err := user.Current(); err == nil {
		username = u.Username
	}
	info := &mesos.FrameworkInfo{User: proto.String(username), Name: proto.String(r.name), Role: proto.String(r.role)}
	// The stream must outlive ctx: on Ctrl-C the task is killed and its
	// end still has to arrive. sub.Close ends it.
	sub, err := r.sched.Subscribe(context.Background(), info)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", r.sched.Master, err)
	}
	r.sub = sub
	defer sub.Close()
	fmt.Fprintf(r.env.Stderr, "Subscribed as framework %s; waiting for an offer of %s\n", sub.FrameworkID.GetValue(), r.need)

	events := make(chan *scheduler.Event)
	streamErr := make(chan error, 1)
	go func() {
		for {
			ev, err := sub.Next()
			if err != nil {
				streamErr <- err
				return
			}
			events <- ev
		}
	}()
	launched, killed := false, false
	for {
		select {
		case ev := <-events:
			switch ev.GetType() {
			case scheduler.Event_OFFERS:
				if launched {
					r.declineAll(ctx, ev.GetOffers().GetOffers(), 3600)
					continue
				}
				launched = r.tryLaunch(ctx, ev.GetOffers().GetOffers())
			case scheduler.Event_UPDATE:
				status := ev.GetUpdate().GetStatus()
				if len(status.GetUuid()) > 0 {
					if err := sub.Call(ctx, client.Acknowledge(status)); err != nil {
						fmt.Fprintf(r.env.Stderr, "acknowledging: %v\n", err)
					}
				}
				if status.GetTaskId().GetValue() != r.taskID {
					continue
				}
				fmt.Fprintf(r.env.Stderr, "Task %s is %s\n", r.taskID, status.GetState())
				if status.GetState() == mesos.TaskState_TASK_RUNNING || taskstate.IsTerminal(status.GetState()) {
					r.startTailing()
				}
				if taskstate.IsTerminal(status.GetState()) {
					r.finishTailing()
					_ = sub.Call(context.Background(), client.Teardown())
					return taskExit(status)
				}
			case scheduler.Event_ERROR:
				return fmt.Errorf("the master reported an error: %s", ev.GetError().GetMessage())
			}
		case err := <-streamErr:
			if errors.Is(err, io.EOF) {
				err = errors.New("the master closed the event stream")
			}
			return err
		case <-ctx.Done():
			if !launched || killed {
				_ = sub.Call(context.Background(), client.Teardown())
				return exitCodeError{code: 130, err: errors.New("interrupted")}
			}
			killed = true
			fmt.Fprintf(r.env.Stderr, "Killing task %s\n", r.taskID)
			_ = sub.Call(context.Background(), client.Kill(&mesos.TaskID{Value: proto.String(r.taskID)}, r.agentID))
			ctx = context.Background() // wait for the terminal update
		}
	}
}

// tryLaunch launches the task on the first offer big enough and declines
// the rest.
func (r *runner) tryLaunch(ctx context.Context, offers []*mesos.Offer) bool {
	launched := false
	var decline []*mesos.OfferID
	for _, o := range offers {
		have := resources.Resources(o.GetResources())
		role := o.GetAllocationInfo().GetRole()
		want := r.need.Allocate(role)
		if launched || !have.Contains(want) {
			decline = append(decline, o.GetId())
			continue
		}
		task := &mesos.TaskInfo{
			Name: proto.String(r.name), TaskId: &mesos.TaskID{Value: proto.String(r.taskID)},
			AgentId: o.GetAgentId(), Resources: want, Command: r.cmd,
		}
		if err := r.sub.Call(ctx, client.Accept([]*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{client.Launch(task)}, 5)); err != nil {
			fmt.Fprintf(r.env.Stderr, "launching: %v\n", err)
			continue
		}
		launched = true
		r.agentID = o.GetAgentId()
		r.agentURL = net.JoinHostPort(o.GetUrl().GetAddress().GetIp(), strconv.Itoa(int(o.GetUrl().GetAddress().GetPort())))
		fmt.Fprintf(r.env.Stderr, "Launched task %s on agent %s (%s)\n", r.taskID, o.GetAgentId().GetValue(), o.GetHostname())
	}
	if len(decline) > 0 {
		_ = r.sub.Call(ctx, client.Decline(decline, 5))
	}
	return launched
}

func (r *runner) declineAll(ctx context.Context, offers []*mesos.Offer, seconds float64) {
	ids := make([]*mesos.OfferID, len(offers))
	for i, o := range offers {
		ids[i] = o.GetId()
	}
	_ = r.sub.Call(ctx, client.Decline(ids, seconds))
}

// startTailing copies the task's stdout and stderr as they grow.
func (r *runner) startTailing() {
	if r.stopTail != nil || r.agentURL == "" {
		return
	}
	r.stopTail = make(chan struct{})
	files := &client.Files{Agent: r.agentURL, HTTP: &http.Client{Timeout: 10 * time.Second}}
	sandbox := client.SandboxPath(r.sub.FrameworkID.GetValue(), r.taskID)
	for _, f := range []struct {
		name string
		out  io.Writer
	}{{"stdout", r.env.Stdout}, {"stderr", r.env.Stderr}} {
		r.tails.Add(1)
		go func() {
			defer r.tails.Done()
			tail(files, sandbox+"/"+f.name, f.out, r.stopTail)
		}()
	}
}

// finishTailing stops the tails once they have copied everything.
func (r *runner) finishTailing() {
	if r.stopTail == nil {
		return
	}
	close(r.stopTail)
	r.tails.Wait()
}

// tail polls a sandbox file and copies new bytes to out; once stop is
// closed it copies what is left and returns.
func tail(files *client.Files, path string, out io.Writer, stop <-chan struct{}) {
	var offset int64
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	stopping := false
	for {
		for {
			data, at, err := files.Read(context.Background(), path, offset, 64*1024)
			if err != nil || len(data) == 0 {
				break
			}
			out.Write(data)
			offset = at + int64(len(data))
		}
		if stopping {
			return
		}
		select {
		case <-ticker.C:
		case <-stop:
			stopping = true
		}
	}
}

var exitStatus = regexp.MustCompile(`^Command exited with status (\d+)`)

// taskExit maps a terminal status to plateau run's exit: the command's
// exit code when it ran, else a failure.
func taskExit(s *mesos.TaskStatus) error {
	if s.GetState() == mesos.TaskState_TASK_FINISHED {
		return nil
	}
	if m := exitStatus.FindStringSubmatch(s.GetMessage()); m != nil {
		code, _ := strconv.Atoi(m[1])
		return exitCodeError{code: code}
	}
	return exitCodeError{code: 1, err: fmt.Errorf("task %s: %s", s.GetState(), s.GetMessage())}
}
