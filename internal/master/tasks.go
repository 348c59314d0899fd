package master

import (
	"bytes"
	"time"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"

	"github.com/plateau/plateau/internal/taskstate"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// accept is ACCEPT: it validates the offers, runs the operations in order
// against the offered resources, and returns what is left to the
// allocator under the call's filters.
func (m *Master) accept(fw *framework, acc *scheduler.Call_Accept) {
	offers, agentID, offerErr := m.takeOffers(fw, acc.GetOfferIds())
	var available resources.Resources
	for _, o := range offers {
		available = available.Add(o.resources)
	}
	a := m.agents[agentID]
	if offerErr == nil && (a == nil || a.link == nil) {
		offerErr = invalid("Agent %s is not connected", agentID)
	}
	if offerErr != nil {
		// Mesos drops every task of the call and gives the valid offers'
		// resources back.
		for _, o := range offers {
			m.alloc.Recover(o.frameworkID, o.agentID, o.resources, time.Now(), 0)
			m.dirtyAgents[o.agentID] = struct{}{}
		}
		state := mesos.TaskState_TASK_LOST
		if fw.partitionAware {
			state = mesos.TaskState_TASK_DROPPED
		}
		for _, t := range operationTasks(acc.GetOperations()) {
			fw.send(updateEvent(masterStatus(t, state, mesos.TaskStatus_REASON_INVALID_OFFERS,
				"Task launched with invalid offers: "+offerErr.Error())))
		}
		return
	}
	role := offers[0].offer.GetAllocationInfo().GetRole()
	for _, op := range acc.GetOperations() {
		switch op.GetType() {
		case mesos.Offer_Operation_LAUNCH, mesos.Offer_Operation_LAUNCH_GROUP:
			if op.Id != nil {
				// Mesos gives no feedback for launches: the tasks are
				// invalid.
				for _, t := range operationTasks([]*mesos.Offer_Operation{op}) {
					fw.send(updateEvent(masterStatus(t, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID,
						"The `id` field cannot be set on "+op.GetType().String()+" operations")))
				}
				continue
			}
			if op.GetType() == mesos.Offer_Operation_LAUNCH {
				for _, ti := range op.GetLaunch().GetTaskInfos() {
					available = m.launchTask(fw, a, role, ti, available)
				}
			} else {
				available = m.launchGroup(fw, a, role, op.GetLaunchGroup(), available)
			}
		default:
			if isConversion(op.GetType()) {
				available = m.convert(fw, a, role, op, available)
			} else {
				m.dropOperation(fw, a, op, "Offer operation "+op.GetType().String()+" is not supported: Plateau agents have no resource providers")
			}
		}
	}
	if !available.IsEmpty() {
		now, refuse := time.Now(), refuseDuration(acc.GetFilters())
		m.alloc.Recover(fw.id, a.id, available, now, refuse)
		m.dirtyAgents[a.id] = struct{}{}
		if refuse > 0 {
			m.addFilter(now.Add(refuse))
		}
	}
}

// takeOffers removes the named offers (they are being used) and checks
// Mesos's rules: every offer valid, belonging to the framework, no
// duplicates, all on one agent.
func (m *Master) takeOffers(fw *framework, ids []*mesos.OfferID) ([]*offer, string, error) {
	var offers []*offer
	var err error
	seen := map[string]bool{}
	agentID := ""
	for _, id := range ids {
		v := id.GetValue()
		o := fw.offers[v]
		switch {
		case seen[v]:
			err = invalid("Duplicate offer %s in offer list", v)
			continue
		case o == nil:
			err = invalid("Offer %s is no longer valid", v)
			continue
		}
		seen[v] = true
		m.dropOffer(o)
		offers = append(offers, o)
		if agentID == "" {
			agentID = o.agentID
		} else if agentID != o.agentID {
			err = invalid("Aggregated offers must belong to one single agent. Offer %s uses agent %s and agent %s", v, o.agentID, agentID)
		}
	}
	if err == nil && len(offers) == 0 {
		err = invalid("No offers specified")
	}
	return offers, agentID, err
}

// launchTask validates and launches one task, returning what is left of
// the offered resources.
func (m *Master) launchTask(fw *framework, a *agent, role string, ti *mesos.TaskInfo, available resources.Resources) resources.Resources {
	ti = proto.Clone(ti).(*mesos.TaskInfo)
	injectAllocation(ti.Resources, role)
	if e := ti.GetExecutor(); e != nil {
		injectAllocation(e.Resources, role)
		if e.FrameworkId == nil {
			e.FrameworkId = fw.info.GetId()
		}
	}
	need := resources.Resources(ti.GetResources())
	newExecutor := false
	if e := ti.GetExecutor(); e != nil && a.executors[fw.id][e.GetExecutorId().GetValue()] == nil {
		newExecutor = true
		need = need.Add(e.GetResources())
	}
	if err := m.validateTask(fw, a, ti, available, need); err != nil {
		fw.send(updateEvent(masterStatus(ti, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID, err.Error())))
		return available
	}
	available = available.Subtract(need)
	if newExecutor {
		m.addExecutor(fw, a, ti.GetExecutor())
	}
	m.addTask(fw, a, newTask(fw, a, ti))
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_RunTask{RunTask: &plateaupb.RunTask{
		Framework: fw.info, Task: ti}}})
	return available
}

// launchGroup validates and launches a task group (LAUNCH_GROUP): all of
// its tasks or none.
func (m *Master) launchGroup(fw *framework, a *agent, role string, lg *mesos.Offer_Operation_LaunchGroup, available resources.Resources) resources.Resources {
	lg = proto.Clone(lg).(*mesos.Offer_Operation_LaunchGroup)
	e := lg.GetExecutor()
	if e != nil {
		injectAllocation(e.Resources, role)
		if e.FrameworkId == nil {
			e.FrameworkId = fw.info.GetId()
		}
	}
	var need resources.Resources
	newExecutor := e != nil && a.executors[fw.id][e.GetExecutorId().GetValue()] == nil
	if newExecutor {
		need = need.Add(e.GetResources())
	}
	for _, ti := range lg.GetTaskGroup().GetTasks() {
		injectAllocation(ti.Resources, role)
		need = need.Add(ti.GetResources())
	}
	err := m.validateTaskGroup(fw, a, lg, available, need)
	if err != nil {
		for _, ti := range lg.GetTaskGroup().GetTasks() {
			fw.send(updateEvent(masterStatus(ti, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_GROUP_INVALID, err.Error())))
		}
		return available
	}
	available = available.Subtract(need)
	if newExecutor {
		m.addExecutor(fw, a, e)
	}
	for _, ti := range lg.GetTaskGroup().GetTasks() {
		ti.Executor = nil
		t := newTask(fw, a, ti)
		t.ExecutorId = e.GetExecutorId()
		m.addTask(fw, a, t)
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_RunTaskGroup{RunTaskGroup: &plateaupb.RunTaskGroup{
		Framework: fw.info, Executor: e, TaskGroup: lg.GetTaskGroup()}}})
	return available
}

// convert runs a RESERVE, UNRESERVE, CREATE or DESTROY from an ACCEPT
// and returns what is left of the offered resources.
func (m *Master) convert(fw *framework, a *agent, role string, op *mesos.Offer_Operation, available resources.Resources) resources.Resources {
	op = operationResources(op, role)
	convs, err := m.conversionsFor(fw, a, op)
	if err != nil {
		m.dropOperation(fw, a, op, err.Error())
		return available
	}
	next, err := available.Apply(convs)
	if err != nil {
		m.dropOperation(fw, a, op, "Operation attempted with invalid resources: "+err.Error())
		return available
	}
	if err := m.applyOperation(fw, a, op, convs); err != nil {
		m.dropOperation(fw, a, op, err.Error())
		return available
	}
	return next
}

// injectAllocation marks resources as allocated to role, as Mesos does for
// frameworks that leave AllocationInfo unset.
func injectAllocation(rs []*mesos.Resource, role string) {
	for _, r := range rs {
		if r.AllocationInfo == nil {
			r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
		}
	}
}

func newTask(fw *framework, a *agent, ti *mesos.TaskInfo) *mesos.Task {
	t := &mesos.Task{
		Name:        ti.Name,
		TaskId:      ti.GetTaskId(),
		FrameworkId: fw.info.GetId(),
		AgentId:     a.info.GetId(),
		State:       mesos.TaskState_TASK_STAGING.Enum(),
		Resources:   ti.GetResources(),
		Labels:      ti.GetLabels(),
		Discovery:   ti.GetDiscovery(),
		Container:   ti.GetContainer(),
		HealthCheck: ti.GetHealthCheck(),
		KillPolicy:  ti.GetKillPolicy(),
		User:        fw.info.User,
	}
	if e := ti.GetExecutor(); e != nil {
		t.ExecutorId = e.GetExecutorId()
	}
	return t
}

func (m *Master) addTask(fw *framework, a *agent, t *mesos.Task) {
	fw.setTask(t)
	m.publish(&masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum(), TaskAdded: &masterpb.Event_TaskAdded{Task: t}})
	a.putTask(fw.id, t)
}

func (m *Master) addExecutor(fw *framework, a *agent, e *mesos.ExecutorInfo) {
	id := e.GetExecutorId().GetValue()
	if fw.executors[a.id] == nil {
		fw.executors[a.id] = map[string]*mesos.ExecutorInfo{}
	}
	fw.executors[a.id][id] = e
	a.putExecutor(fw.id, e)
}

// removeExecutor forgets an executor and recovers its resources.
func (m *Master) removeExecutor(fw *framework, agentID, execID string) {
	var e *mesos.ExecutorInfo
	if execs := fw.executors[agentID]; execs != nil {
		e = execs[execID]
		delete(execs, execID)
		if len(execs) == 0 {
			delete(fw.executors, agentID)
		}
	}
	if a := m.agents[agentID]; a != nil {
		if dropped := a.dropExecutor(fw.id, execID); e == nil {
			e = dropped
		}
	}
	if e != nil && len(e.GetResources()) > 0 {
		m.alloc.Recover(fw.id, agentID, e.GetResources(), time.Now(), 0)
		m.dirtyAgents[agentID] = struct{}{}
	}
}

// statusUpdate records an update from an agent and forwards it to the
// framework. The agent resends it until the framework acknowledges it.
func (m *Master) statusUpdate(a *agent, u *plateaupb.StatusUpdate) {
	status := u.GetStatus()
	if status.AgentId == nil {
		status.AgentId = a.info.GetId()
	}
	fwID := u.GetFrameworkId().GetValue()
	fw := m.frameworks[fwID]
	if t := a.tasks[fwID][status.GetTaskId().GetValue()]; t != nil {
		latest := status.GetState()
		if u.LatestState != nil {
			latest = u.GetLatestState()
		}
		wasTerminal := taskstate.IsTerminal(t.GetState())
		t = withState(t, latest, status)
		m.replaceTask(a, t)
		m.publish(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
			FrameworkId: u.GetFrameworkId(), Status: status, State: latest.Enum()}})
		if !wasTerminal && taskstate.IsTerminal(latest) {
			defer m.checkDrained(a)
			m.counts.countTerminal(latest)
			m.alloc.Recover(fwID, a.id, t.GetResources(), time.Now(), 0)
			m.dirtyAgents[a.id] = struct{}{}
		}
		if len(status.GetUuid()) == 0 && taskstate.IsTerminal(status.GetState()) && fw != nil {
			m.removeTask(fw, t)
		}
	}
	if fw == nil {
		m.log.Warn("dropping status update for unknown framework", "framework", fwID, "task", status.GetTaskId().GetValue())
		return
	}
	fw.send(updateEvent(status))
}

// withState returns a copy of t in state, with status (if any) recorded
// as the latest update sent to the framework. Task records are never
// changed in place, so readers may hold on to them.
func withState(t *mesos.Task, state mesos.TaskState, status *mesos.TaskStatus) *mesos.Task {
	n := proto.Clone(t).(*mesos.Task)
	n.State = state.Enum()
	if status != nil {
		n.StatusUpdateState = status.State
		n.StatusUpdateUuid = status.Uuid
		stored := proto.Clone(status).(*mesos.TaskStatus)
		stored.Data = nil // as Mesos, keep the history small
		n.Statuses = append(n.Statuses, stored)
	}
	return n
}

func (m *Master) replaceTask(a *agent, t *mesos.Task) {
	fwID := t.GetFrameworkId().GetValue()
	a.putTask(fwID, t)
	if fw := m.frameworks[fwID]; fw != nil {
		fw.setTask(t)
	}
}

// removeTask moves a task to its framework's completed tasks. Its
// resources must already have been recovered if it ran.
func (m *Master) removeTask(fw *framework, t *mesos.Task) {
	id := t.GetTaskId().GetValue()
	agentID := t.GetAgentId().GetValue()
	if !taskstate.IsTerminal(fw.tasks[id].GetState()) {
		m.alloc.Recover(fw.id, agentID, t.GetResources(), time.Now(), 0)
		m.dirtyAgents[agentID] = struct{}{}
	}
	fw.deleteTask(id)
	if a := m.agents[agentID]; a != nil {
		a.dropTask(fw.id, id)
	}
	fw.completedTasks = appendCompleted(fw.completedTasks, t)
}

// acknowledge is ACKNOWLEDGE: it forwards the acknowledgement to the
// agent, and forgets the task once its terminal update is acknowledged.
func (m *Master) acknowledge(fw *framework, ack *scheduler.Call_Acknowledge) {
	a := m.agents[ack.GetAgentId().GetValue()]
	if a == nil {
		m.log.Warn("ignoring acknowledgement for unknown agent", "agent", ack.GetAgentId().GetValue())
		return
	}
	if t := fw.tasks[ack.GetTaskId().GetValue()]; t != nil &&
		bytes.Equal(t.GetStatusUpdateUuid(), ack.GetUuid()) && taskstate.IsTerminal(t.GetStatusUpdateState()) {
		m.removeTask(fw, t)
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_Acknowledgement{Acknowledgement: &plateaupb.StatusUpdateAcknowledgement{
		FrameworkId: fw.info.GetId(), TaskId: ack.GetTaskId(), Uuid: ack.GetUuid()}}})
}

// executorExited handles an executor's exit reported by its agent.
func (m *Master) executorExited(a *agent, e *plateaupb.ExecutorExited) {
	fwID := e.GetFrameworkId().GetValue()
	fw := m.frameworks[fwID]
	if fw == nil {
		return
	}
	m.removeExecutor(fw, a.id, e.GetExecutorId().GetValue())
	fw.send(&scheduler.Event{Type: scheduler.Event_FAILURE.Enum(), Failure: &scheduler.Event_Failure{
		AgentId: a.info.GetId(), ExecutorId: e.GetExecutorId(), Status: e.Status}})
}

// masterStatus is a status update the master makes up for a task (no uuid:
// it needs no acknowledgement).
func masterStatus(ti *mesos.TaskInfo, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) *mesos.TaskStatus {
	return &mesos.TaskStatus{
		TaskId:    ti.GetTaskId(),
		AgentId:   ti.GetAgentId(),
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		Message:   proto.String(msg),
		Timestamp: proto.Float64(nowSeconds()),
	}
}

// operationTasks lists the tasks that LAUNCH and LAUNCH_GROUP operations
// carry.
func operationTasks(ops []*mesos.Offer_Operation) []*mesos.TaskInfo {
	var tasks []*mesos.TaskInfo
	for _, op := range ops {
		tasks = append(tasks, op.GetLaunch().GetTaskInfos()...)
		tasks = append(tasks, op.GetLaunchGroup().GetTaskGroup().GetTasks()...)
	}
	return tasks
}
