package master

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

// /master/state reuses the JSON of unchanged frameworks and agents, and
// only theirs: a task that finishes shows at once in its framework and in
// its agent's used resources.
func TestStateCacheFollowsChanges(t *testing.T) {
	m := emulatedMaster(t, 4, 2, 8)
	ctx := context.Background()
	type state struct {
		Slaves []struct {
			ID   string             `json:"id"`
			PID  string             `json:"pid"`
			Used map[string]float64 `json:"used_resources"`
		} `json:"slaves"`
		Frameworks []struct {
			Tasks          []struct{ ID, State string } `json:"tasks"`
			CompletedTasks []struct{ ID, State string } `json:"completed_tasks"`
		} `json:"frameworks"`
	}
	render := func() (state, string) {
		w := httptest.NewRecorder()
		m.serveState(w, httptest.NewRequest("GET", "/master/state", nil))
		var s state
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
			t.Fatalf("/master/state is not JSON: %v", err)
		}
		return s, w.Body.String()
	}
	first, firstBody := render()
	if _, again := render(); again != firstBody {
		t.Fatal("two renders of an unchanged master differ")
	}
	tasks := 0
	for _, f := range first.Frameworks {
		tasks += len(f.Tasks)
	}
	if tasks != 8 {
		t.Fatalf("%d tasks in /master/state, want 8", tasks)
	}

	// One task finishes.
	var agentID string
	if err := m.do(ctx, func() {
		for _, fw := range m.frameworks {
			for _, task := range fw.tasks {
				if task.GetTaskId().GetValue() != "task-000003" {
					continue
				}
				agentID = task.GetAgentId().GetValue()
				st := &mesos.TaskStatus{TaskId: task.GetTaskId(), State: mesos.TaskState_TASK_FINISHED.Enum(), AgentId: task.GetAgentId()}
				m.statusUpdate(m.agents[agentID], &plateaupb.StatusUpdate{FrameworkId: task.GetFrameworkId(), Status: st})
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	after, afterBody := render()
	if afterBody == firstBody {
		t.Fatal("/master/state did not change when a task finished")
	}
	if !strings.Contains(afterBody, `"TASK_FINISHED"`) {
		t.Fatal("the finished task's state is not in /master/state")
	}
	for i, a := range after.Slaves {
		before := first.Slaves[i].Used["cpus"]
		if a.ID == agentID && a.Used["cpus"] >= before {
			t.Fatalf("agent %s uses %v cpus after its task finished (before: %v)", a.ID, a.Used["cpus"], before)
		}
		if a.ID != agentID && a.Used["cpus"] != before {
			t.Fatalf("agent %s's usage changed from %v to %v", a.ID, before, a.Used["cpus"])
		}
	}

	// The agent moves to another address of as many characters.
	pid := func(endpoint string) string {
		if err := m.do(ctx, func() { m.agents[agentID].endpoint = endpoint }); err != nil {
			t.Fatal(err)
		}
		s, _ := render()
		for _, a := range s.Slaves {
			if a.ID == agentID {
				return a.PID
			}
		}
		t.Fatalf("agent %s is not in /master/state", agentID)
		return ""
	}
	pid("10.0.0.1:5051")
	if got := pid("10.0.0.2:5051"); got != "slave(1)@10.0.0.2:5051" {
		t.Fatalf("agent %s's pid is %s after it moved to 10.0.0.2:5051", agentID, got)
	}
}

// A part is rendered again only when its fingerprint changes; a render
// drops the parts of the lists it covers that it did not ask for, and
// keeps the other lists' parts.
func TestStateCacheKeepsOtherListsParts(t *testing.T) {
	var c stateCache
	var mu sync.Mutex // parts render on several goroutines
	renders := map[string]int{}
	req := func(key string, fp uint64) partRequest {
		return partRequest{key: key, fp: fp, render: func() []byte {
			mu.Lock()
			defer mu.Unlock()
			renders[key]++
			return []byte(key)
		}}
	}
	c.resolve([]string{"slaves", "frameworks"}, []partRequest{req("slaves/a", 1), req("frameworks/f", 1)})
	c.resolve([]string{"slaves"}, []partRequest{req("slaves/a", 1)})                                              // /master/slaves
	got := c.resolve([]string{"slaves", "frameworks"}, []partRequest{req("slaves/a", 2), req("frameworks/f", 1)}) // a changed
	if string(got[0]) != "slaves/a" || string(got[1]) != "frameworks/f" {
		t.Fatalf("parts %q", got)
	}
	if renders["slaves/a"] != 2 || renders["frameworks/f"] != 1 {
		t.Fatalf("renders %v: want slaves/a twice (it changed) and frameworks/f once", renders)
	}
	c.resolve([]string{"frameworks"}, nil) // the framework is gone
	c.resolve([]string{"frameworks"}, []partRequest{req("frameworks/f", 1)})
	if renders["frameworks/f"] != 2 {
		t.Fatalf("a dropped part was not rendered again: renders %v", renders)
	}
}

// Unreachable and gone agents are kept in the registry, within
// --registry_max_agent_count and --registry_max_agent_age, and a restarted
// master still knows them.
func TestRemovedAgentsAreBoundedAndDurable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IP, cfg.Port, cfg.WorkDir = "127.0.0.1", 0, t.TempDir()
	cfg.RegistryMaxAgentCount, cfg.RegistryMaxAgentAge = 2, time.Hour
	start := func() (*Master, context.CancelFunc, chan struct{}) {
		m, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = m.Run(ctx) }()
		return m, cancel, done
	}
	m, cancel, done := start()
	now := time.Now()
	if err := m.do(context.Background(), func() {
		m.markUnreachable("old", now.Add(-2*time.Hour)) // past the age: forgotten at once
		m.markUnreachable("a", now.Add(-3*time.Minute))
		m.markUnreachable("b", now.Add(-2*time.Minute))
		m.markUnreachable("c", now.Add(-time.Minute)) // a third: the oldest, a, goes
		m.markGone("g", now)
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done

	m, cancel, done = start()
	defer func() { cancel(); <-done }()
	var unreachable, gone []string
	if err := m.do(context.Background(), func() {
		for id := range m.unreachable {
			unreachable = append(unreachable, id)
		}
		for id := range m.gone {
			gone = append(gone, id)
		}
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(unreachable)
	if strings.Join(unreachable, ",") != "b,c" || strings.Join(gone, ",") != "g" {
		t.Fatalf("after a restart: unreachable %v, gone %v; want [b c] and [g]", unreachable, gone)
	}
}

// The whole-cluster endpoints may be read while tasks change: every
// answer is complete JSON and tells the same number of tasks (a task
// ending keeps it in its framework's completed tasks). Run under -race,
// this also checks that snapshots share the loop's lists safely.
func TestStateEndpointsWhileTasksChange(t *testing.T) {
	m := emulatedMaster(t, 20, 4, 200)
	ctx := context.Background()
	var tasks []*mesos.Task
	if err := m.do(ctx, func() {
		for _, fw := range m.frameworks {
			tasks = append(tasks, fw.tasksList()...)
		}
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // the tasks finish one by one
		defer close(done)
		for _, task := range tasks {
			_ = m.do(ctx, func() {
				st := &mesos.TaskStatus{TaskId: task.GetTaskId(), State: mesos.TaskState_TASK_FINISHED.Enum(), AgentId: task.GetAgentId()}
				m.statusUpdate(m.agents[task.GetAgentId().GetValue()], &plateaupb.StatusUpdate{FrameworkId: task.GetFrameworkId(), Status: st})
			})
		}
	}()
	handlers := map[string]func(http.ResponseWriter, *http.Request){
		"/master/state": m.serveState, "/master/frameworks": m.serveFrameworks, "/master/slaves": m.serveSlaves, "/master/state-summary": m.serveStateSummary,
	}
	var wg sync.WaitGroup
	for path, h := range handlers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				w := httptest.NewRecorder()
				h(w, httptest.NewRequest("GET", path, nil))
				var doc struct {
					Frameworks []struct {
						Tasks          []json.RawMessage `json:"tasks"`
						CompletedTasks []json.RawMessage `json:"completed_tasks"`
					} `json:"frameworks"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Errorf("%s is not JSON: %v", path, err)
					return
				}
				if path == "/master/state" || path == "/master/frameworks" {
					n := 0
					for _, f := range doc.Frameworks {
						n += len(f.Tasks) + len(f.CompletedTasks)
					}
					if n != len(tasks) {
						t.Errorf("%s tells %d tasks, want %d", path, n, len(tasks))
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
