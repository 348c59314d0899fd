package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/resources"
)

// launchTask starts a command task through the scheduler API and waits
// until it runs.
func launchTask(t *testing.T, master, id, command string) {
	t.Helper()
	// The subscription must outlive this function: its context is not
	// cancelled here.
	ctx := context.Background()
	sub, err := (&client.Scheduler{Master: master}).Subscribe(ctx, &mesos.FrameworkInfo{
		User: proto.String("root"), Name: proto.String("cli-test"), FailoverTimeout: proto.Float64(3600)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	need, _ := resources.Parse("cpus:0.5;mem:64", "*")
	for {
		ev, err := sub.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetType() {
		case scheduler.Event_OFFERS:
			o := ev.GetOffers().GetOffers()[0]
			task := &mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
				Resources: need.Allocate(o.GetAllocationInfo().GetRole()), Command: &mesos.CommandInfo{Value: proto.String(command)}}
			if err := sub.Call(ctx, client.Accept([]*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{client.Launch(task)}, 3600)); err != nil {
				t.Fatal(err)
			}
		case scheduler.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if err := sub.Call(ctx, client.Acknowledge(st)); err != nil {
				t.Fatal(err)
			}
			if st.GetState() == mesos.TaskState_TASK_RUNNING {
				return
			}
		}
	}
}

func TestInspectCommands(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	launchTask(t, c.MasterAddr(), "inspected", "echo line-one; echo line-two; echo oops >&2; sleep 1000")
	m := []string{"--master", c.MasterAddr()}

	code, out, stderr := run(t, nil, append([]string{"agents"}, m...)...)
	if code != 0 || !strings.Contains(out, "HOSTNAME") || !strings.Contains(out, "0.5/4") {
		t.Fatalf("agents: %d %q %q", code, out, stderr)
	}
	code, out, _ = run(t, nil, append([]string{"frameworks"}, m...)...)
	if code != 0 || !strings.Contains(out, "cli-test") || !strings.Contains(out, "active") {
		t.Fatalf("frameworks: %d %q", code, out)
	}
	code, out, _ = run(t, nil, append([]string{"tasks"}, m...)...)
	if code != 0 || !strings.Contains(out, "inspected") || !strings.Contains(out, "RUNNING") {
		t.Fatalf("tasks: %d %q", code, out)
	}
	// A list of masters: one that is down is skipped.
	code, out, _ = run(t, nil, "tasks", "--master", "127.0.0.1:1,"+c.MasterAddr())
	if code != 0 || !strings.Contains(out, "inspected") {
		t.Fatalf("tasks with a list of masters: %d %q", code, out)
	}
	code, out, _ = run(t, nil, append([]string{"tasks", "--json"}, m...)...)
	var tasks struct {
		Tasks []struct {
			State  string `json:"state"`
			TaskID struct {
				Value string `json:"value"`
			} `json:"task_id"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &tasks); code != 0 || err != nil || len(tasks.Tasks) != 1 || tasks.Tasks[0].State != "TASK_RUNNING" {
		t.Fatalf("tasks --json: %d %v %q", code, err, out)
	}
	waitForOutput := func(args ...string) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, out, _ := run(t, nil, append(args, m...)...)
			if strings.Contains(out, "line-two") || strings.Contains(out, "oops") || time.Now().After(deadline) {
				return out
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if out := waitForOutput("task", "log", "inspected"); out != "line-one\nline-two\n" {
		t.Fatalf("task log: %q", out)
	}
	if out := waitForOutput("task", "log", "inspected", "--stderr"); !strings.Contains(out, "oops") {
		t.Fatalf("task log --stderr: %q", out)
	}
	code, out, _ = run(t, nil, append([]string{"task", "ls", "inspected"}, m...)...)
	if code != 0 || !strings.Contains(out, "stdout") || !strings.Contains(out, "stderr") {
		t.Fatalf("task ls: %d %q", code, out)
	}
	code, _, stderr = run(t, nil, append([]string{"task", "log", "no-such-task"}, m...)...)
	if code != exitNotFound || !strings.Contains(stderr, "no-such-task") {
		t.Fatalf("task log of an unknown task: exit %d %q", code, stderr)
	}
}

func TestAgentVerbsAndRoles(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	launchTask(t, c.MasterAddr(), "to-drain", "sleep 1000")
	m := []string{"--master", c.MasterAddr()}
	code, out, _ := run(t, nil, append([]string{"quota"}, m...)...)
	if code != 0 || !strings.Contains(out, "GUARANTEES") {
		t.Fatalf("quota: %d %q", code, out)
	}
	code, out, _ = run(t, nil, append([]string{"roles"}, m...)...)
	if code != 0 || !strings.Contains(out, "*") || !strings.Contains(out, "0.5") {
		t.Fatalf("roles: %d %q", code, out)
	}
	var agents struct {
		Agents []struct {
			AgentInfo struct {
				ID struct {
					Value string `json:"value"`
				} `json:"id"`
			} `json:"agent_info"`
		} `json:"agents"`
	}
	_, out, _ = run(t, nil, append([]string{"agents", "--json"}, m...)...)
	if err := json.Unmarshal([]byte(out), &agents); err != nil || len(agents.Agents) != 1 {
		t.Fatalf("agents --json: %v %q", err, out)
	}
	id := agents.Agents[0].AgentInfo.ID.Value
	code, _, stderr := run(t, nil, append([]string{"agent", "drain", id, "--grace", "1s"}, m...)...)
	if code != 0 {
		t.Fatalf("agent drain: %d %q", code, stderr)
	}
	waitForTasks := func() string {
		for range 500 {
			_, out, _ := run(t, nil, append([]string{"tasks", "--all"}, m...)...)
			if strings.Contains(out, "KILLED") {
				return out
			}
			time.Sleep(20 * time.Millisecond)
		}
		return ""
	}
	if out := waitForTasks(); !strings.Contains(out, "to-drain") {
		t.Fatalf("the drained agent's task was not killed: %q", out)
	}
	if code, _, _ := run(t, nil, append([]string{"agent", "reactivate", id}, m...)...); code != 0 {
		t.Fatalf("agent reactivate: exit %d", code)
	}
	if code, _, _ := run(t, nil, append([]string{"agent", "deactivate", "no-such-agent"}, m...)...); code != exitNotFound {
		t.Fatalf("agent deactivate of an unknown agent: exit %d, want %d", code, exitNotFound)
	}
}

// plateau task exec runs a command in the task's container, with its
// input, and exits with its code.
func TestTaskExec(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	launchTask(t, c.MasterAddr(), "execd", "echo marker > here; sleep 1000")
	var stdout, stderr strings.Builder
	env := Env{Stdin: strings.NewReader("from stdin\n"), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Main(context.Background(), []string{"task", "exec", "-i", "--master", c.MasterAddr(), "execd", "--",
		"sh", "-c", `read line; echo "$line"; cat here; echo to-stderr >&2; exit 7`}, env)
	if code != 7 || stdout.String() != "from stdin\nmarker\n" || stderr.String() != "to-stderr\n" {
		t.Fatalf("task exec: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	code, _, errOut := run(t, nil, "task", "exec", "--master", c.MasterAddr(), "no-such-task", "--", "true")
	if code != exitNotFound || !strings.Contains(errOut, "no task") {
		t.Fatalf("exec in an unknown task: %d %q", code, errOut)
	}
}

// plateau maintenance: schedule a machine, see it draining, take it down
// and bring it up.
func TestMaintenanceCommands(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	m := []string{"--master", c.MasterAddr()}
	st, err := (&client.Operator{Master: c.MasterAddr()}).GetState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host := st.GetGetAgents().GetAgents()[0].GetAgentInfo().GetHostname()
	machine := host + "=127.0.0.1"
	if code, _, errOut := run(t, nil, append([]string{"maintenance", "schedule", "add", "--start", "2030-01-01T00:00:00Z", "--duration", "2h", machine}, m...)...); code != 0 {
		t.Fatalf("schedule add: %d %q", code, errOut)
	}
	code, out, _ := run(t, nil, append([]string{"maintenance", "schedule"}, m...)...)
	if code != 0 || !strings.Contains(out, "2030-01-01T00:00:00Z") || !strings.Contains(out, "2h0m0s") || !strings.Contains(out, machine) {
		t.Fatalf("schedule: %d %q", code, out)
	}
	code, out, _ = run(t, nil, append([]string{"maintenance", "status"}, m...)...)
	if code != 0 || !strings.Contains(out, machine) || !strings.Contains(out, "DRAINING") {
		t.Fatalf("status: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, append([]string{"maintenance", "up", machine}, m...)...); code != exitError || !strings.Contains(errOut, "not in DOWN mode") {
		t.Fatalf("up before down: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, append([]string{"maintenance", "down", machine}, m...)...); code != 0 {
		t.Fatalf("down: %d %q", code, errOut)
	}
	code, out, _ = run(t, nil, append([]string{"maintenance", "status", "--json"}, m...)...)
	if code != 0 || !strings.Contains(out, `"down_machines"`) {
		t.Fatalf("status --json after down: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, append([]string{"maintenance", "up", machine}, m...)...); code != 0 {
		t.Fatalf("up: %d %q", code, errOut)
	}
	code, out, _ = run(t, nil, append([]string{"maintenance", "schedule", "--json"}, m...)...)
	if code != 0 || strings.Contains(out, host) {
		t.Fatalf("schedule after up: %d %q", code, out)
	}
}
