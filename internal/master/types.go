package master

import (
	"slices"
	"time"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/queue"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// maxCompletedTasks bounds the finished tasks remembered per framework, and
// maxCompletedFrameworks the removed frameworks (Mesos's
// --max_completed_tasks_per_framework and --max_completed_frameworks).
const (
	maxCompletedTasks      = 1000
	maxCompletedFrameworks = 50
)

// framework is a subscribed (or failed-over, disconnected) framework.
type framework struct {
	id   string
	info *mesos.FrameworkInfo
	// stream is the scheduler's event stream; nil while disconnected.
	stream   *queue.Queue[*scheduler.Event]
	streamID string
	active   bool

	partitionAware bool
	multiRole      bool

	registered   time.Time
	reregistered time.Time
	unregistered time.Time
	// failover fires when a disconnected framework's failover_timeout
	// runs out; epoch tells a stale timer from the current one.
	failover *time.Timer
	epoch    int

	offers map[string]*offer
	// tasks holds the tasks' current records by task ID (records are
	// replaced, never changed); change it with setTask and deleteTask.
	tasks map[string]*mesos.Task
	// taskList lists tasks for snapshots: replaced, never changed, and
	// rebuilt only after tasks changed (taskListStale).
	taskList      []*mesos.Task
	taskListStale bool
	// completedTasks only grows at its end and shrinks at its start, so a
	// snapshot may share it.
	completedTasks []*mesos.Task
	// unreachableTasks were on agents that became unreachable (for
	// PARTITION_AWARE frameworks).
	unreachableTasks map[string]*mesos.Task
	// executors maps agent ID to the executors the framework runs there.
	executors map[string]map[string]*mesos.ExecutorInfo
	// operations are offer operations with feedback, by operation ID,
	// until their terminal status is acknowledged.
	operations map[string]*mesos.Operation
}

// newFramework makes an empty framework record.
func newFramework(id string, now time.Time) *framework {
	return &framework{
		id: id, registered: now,
		offers:           map[string]*offer{},
		tasks:            map[string]*mesos.Task{},
		unreachableTasks: map[string]*mesos.Task{},
		executors:        map[string]map[string]*mesos.ExecutorInfo{},
		operations:       map[string]*mesos.Operation{},
	}
}

// setTask records a task's current record.
func (fw *framework) setTask(t *mesos.Task) {
	fw.tasks[t.GetTaskId().GetValue()] = t
	fw.taskListStale = true
}

// deleteTask forgets a task.
func (fw *framework) deleteTask(id string) {
	delete(fw.tasks, id)
	fw.taskListStale = true
}

// tasksList is the framework's tasks as a list, listed again only after
// they changed.
func (fw *framework) tasksList() []*mesos.Task {
	if fw.taskListStale {
		fw.taskList, fw.taskListStale = make([]*mesos.Task, 0, len(fw.tasks)), false
		for _, t := range fw.tasks {
			fw.taskList = append(fw.taskList, t)
		}
	}
	return fw.taskList
}

// roles is the framework's subscribed roles (FrameworkInfo.roles for
// MULTI_ROLE frameworks, else the single FrameworkInfo.role).
func frameworkRoles(info *mesos.FrameworkInfo) []string {
	if hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		if len(info.GetRoles()) > 0 {
			return info.GetRoles()
		}
		return []string{"*"}
	}
	return []string{info.GetRole()} // proto default is "*"
}

func hasCapability(info *mesos.FrameworkInfo, c mesos.FrameworkInfo_Capability_Type) bool {
	for _, cap := range info.GetCapabilities() {
		if cap.GetType() == c {
			return true
		}
	}
	return false
}

// send queues an event for the framework's scheduler, if connected.
func (fw *framework) send(ev *scheduler.Event) {
	if fw.stream != nil {
		fw.stream.Push(ev)
	}
}

// agent is a registered agent.
type agent struct {
	id       string
	info     *mesos.AgentInfo
	endpoint string // host:port of its HTTP server
	version  string
	total    resources.Resources
	// link carries messages to the agent; nil while disconnected.
	link   *agentLink
	active bool

	registered   time.Time
	reregistered time.Time
	// unreachableTimer fires when the agent has been disconnected too long.
	unreachableTimer *time.Timer
	disconnects      int
	// deactivated agents get no offers (DEACTIVATE_AGENT, DRAIN_AGENT);
	// drain is set while and after draining.
	deactivated bool
	drain       *mesos.DrainInfo

	offers map[string]*offer
	// tasks maps framework ID to task ID to the task's current record.
	tasks map[string]map[string]*mesos.Task
	// executors maps framework ID to executor ID to its info.
	executors map[string]map[string]*mesos.ExecutorInfo
	// used lists the resources of the live tasks and executors, for the
	// state endpoints. It is kept up to date by putTask, dropTask,
	// putExecutor and dropExecutor, and replaced, never changed, so
	// snapshots may share it.
	used []*mesos.Resource
}

// putTask records a task's current record. A task's records differ only
// in state, so used changes when a task is new or ends.
func (a *agent) putTask(fwID string, t *mesos.Task) {
	id := t.GetTaskId().GetValue()
	if a.tasks[fwID] == nil {
		a.tasks[fwID] = map[string]*mesos.Task{}
	}
	old := a.tasks[fwID][id]
	a.tasks[fwID][id] = t
	switch live := !taskstate.IsTerminal(t.GetState()); {
	case old == nil && live:
		a.used = append(slices.Clip(a.used), t.GetResources()...)
	case old != nil && live == taskstate.IsTerminal(old.GetState()):
		a.listUsed()
	}
}

// dropTask forgets a task.
func (a *agent) dropTask(fwID, id string) {
	old := a.tasks[fwID][id]
	delete(a.tasks[fwID], id)
	if len(a.tasks[fwID]) == 0 {
		delete(a.tasks, fwID)
	}
	if old != nil && !taskstate.IsTerminal(old.GetState()) {
		a.listUsed()
	}
}

// putExecutor records an executor.
func (a *agent) putExecutor(fwID string, e *mesos.ExecutorInfo) {
	id := e.GetExecutorId().GetValue()
	if a.executors[fwID] == nil {
		a.executors[fwID] = map[string]*mesos.ExecutorInfo{}
	}
	_, replaced := a.executors[fwID][id]
	a.executors[fwID][id] = e
	if replaced {
		a.listUsed()
	} else {
		a.used = append(slices.Clip(a.used), e.GetResources()...)
	}
}

// dropExecutor forgets an executor and returns its info, if it was known.
func (a *agent) dropExecutor(fwID, id string) *mesos.ExecutorInfo {
	e, ok := a.executors[fwID][id]
	if !ok {
		return nil
	}
	delete(a.executors[fwID], id)
	if len(a.executors[fwID]) == 0 {
		delete(a.executors, fwID)
	}
	a.listUsed()
	return e
}

// listUsed lists used again from the tasks and executors.
func (a *agent) listUsed() {
	a.used = nil
	for _, tasks := range a.tasks {
		for _, t := range tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				a.used = append(a.used, t.GetResources()...)
			}
		}
	}
	for _, execs := range a.executors {
		for _, e := range execs {
			a.used = append(a.used, e.GetResources()...)
		}
	}
}

func (a *agent) send(msg *plateaupb.MasterMessage) {
	if a.link != nil {
		a.link.out.Push(msg)
	}
}

// usedResources sums the resources of the agent's tasks and executors.
func (a *agent) usedResources() map[string]resources.Resources {
	used := map[string]resources.Resources{}
	for fwID, tasks := range a.tasks {
		var r resources.Resources
		for _, t := range tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				r = r.Add(t.GetResources())
			}
		}
		for _, e := range a.executors[fwID] {
			r = r.Add(e.GetResources())
		}
		if !r.IsEmpty() {
			used[fwID] = r
		}
	}
	return used
}

// offer is an outstanding offer.
type offer struct {
	offer       *mesos.Offer
	frameworkID string
	agentID     string
	resources   resources.Resources
	timeout     *time.Timer
}

// agentLink is the master's side of an agent's Connect stream.
type agentLink struct {
	out *queue.Queue[*plateaupb.MasterMessage]
}
