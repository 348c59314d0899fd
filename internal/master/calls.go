package master

import (
	"fmt"
	"time"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

// defaultRefuse is how long declined or unused resources are kept from a
// framework when it gives no Filters (Mesos's Filters.refuse_seconds).
const defaultRefuse = 5 * time.Second

// handleCall runs a non-SUBSCRIBE scheduler call on the loop, after the
// checks every call shares (Mesos's Master::Http::scheduler).
func (m *Master) handleCall(streamID string, call *scheduler.Call) error {
	fw := m.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		return badRequest("Framework cannot be found")
	}
	if fw.stream == nil {
		return forbidden("Framework is not subscribed")
	}
	if streamID == "" {
		return badRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if streamID != fw.streamID {
		return badRequest("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", streamID, fw.id)
	}
	switch call.GetType() {
	case scheduler.Call_TEARDOWN:
		m.removeFramework(fw)
	case scheduler.Call_ACCEPT:
		m.accept(fw, call.GetAccept())
	case scheduler.Call_DECLINE:
		m.decline(fw, call.GetDecline().GetOfferIds(), call.GetDecline().GetFilters())
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		m.answerInverseOffers(fw, call.GetAcceptInverseOffers().GetInverseOfferIds(), true)
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		m.answerInverseOffers(fw, call.GetDeclineInverseOffers().GetInverseOfferIds(), false)
	case scheduler.Call_REVIVE:
		m.alloc.ReviveOffers(fw.id, call.GetRevive().GetRoles())
		m.fullCycle = true
	case scheduler.Call_SUPPRESS:
		m.alloc.SuppressOffers(fw.id, call.GetSuppress().GetRoles())
	case scheduler.Call_KILL:
		m.kill(fw, call.GetKill())
	case scheduler.Call_SHUTDOWN:
		m.shutdownExecutor(fw, call.GetShutdown())
	case scheduler.Call_ACKNOWLEDGE:
		m.acknowledge(fw, call.GetAcknowledge())
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		return m.acknowledgeOperation(fw, call.GetAcknowledgeOperationStatus())
	case scheduler.Call_RECONCILE:
		m.reconcile(fw, call.GetReconcile())
	case scheduler.Call_RECONCILE_OPERATIONS:
		m.reconcileOperations(fw, call.GetReconcileOperations())
	case scheduler.Call_MESSAGE:
		m.frameworkMessage(fw, call.GetMessage())
	case scheduler.Call_REQUEST:
		// Mesos's allocator ignores resource requests; so does ours.
	case scheduler.Call_UPDATE_FRAMEWORK:
		return m.updateFramework(fw, call.GetUpdateFramework())
	default:
		return badRequest("Unsupported call type %s", call.GetType())
	}
	return nil
}

// updateFramework is UPDATE_FRAMEWORK: it replaces the framework's info
// (roles, capabilities, name, failover timeout...) without reconnecting.
func (m *Master) updateFramework(fw *framework, u *scheduler.Call_UpdateFramework) error {
	info := proto.Clone(u.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	if info.GetId().GetValue() != fw.id {
		return badRequest("'framework_info.id' differs from the framework's ID %s", fw.id)
	}
	if err := m.validateFrameworkInfo(info); err != nil {
		return badRequest("Invalid FrameworkInfo: %v", err)
	}
	if fw.info.GetPrincipal() != info.GetPrincipal() {
		return badRequest("Changing framework's principal is not allowed.")
	}
	if fw.info.GetUser() != info.GetUser() || fw.info.GetCheckpoint() != info.GetCheckpoint() {
		return badRequest("Updating 'user' or 'checkpoint' of a framework is not supported")
	}
	if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_AddFramework{AddFramework: info}}); err != nil {
		return err
	}
	m.setFrameworkInfo(fw, info)
	m.alloc.UpdateFramework(fw.id, allocatorFramework(info))
	m.publishFramework(masterpb.Event_FRAMEWORK_UPDATED, fw)
	if roles := u.GetSuppressedRoles(); len(roles) > 0 {
		m.alloc.SuppressOffers(fw.id, roles)
	}
	for agentID := range m.agentsOf(fw) {
		m.agents[agentID].send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_UpdateFramework{
			UpdateFramework: &plateaupb.UpdateFramework{FrameworkInfo: info}}})
	}
	m.fullCycle = true
	return nil
}

// decline returns offers to the allocator, refused to the framework for
// the filter's duration.
func (m *Master) decline(fw *framework, ids []*mesos.OfferID, filters *mesos.Filters) {
	refuse := refuseDuration(filters)
	for _, id := range ids {
		o := fw.offers[id.GetValue()]
		if o == nil {
			continue // Mesos ignores offers that are no longer valid
		}
		m.removeOfferWithFilter(o, refuse)
		m.counts.offersDeclined++
	}
}

func refuseDuration(f *mesos.Filters) time.Duration {
	if f == nil || f.RefuseSeconds == nil {
		return defaultRefuse
	}
	s := f.GetRefuseSeconds()
	if s < 0 {
		return 0
	}
	if s > 365*24*3600 {
		s = 365 * 24 * 3600
	}
	return time.Duration(s * float64(time.Second))
}

// kill is KILL: it asks the task's agent to kill it, or answers with
// reconciliation when the master does not know the task.
func (m *Master) kill(fw *framework, k *scheduler.Call_Kill) {
	t := fw.tasks[k.GetTaskId().GetValue()]
	if t == nil {
		rec := &scheduler.Call_Reconcile{Tasks: []*scheduler.Call_Reconcile_Task{{TaskId: k.GetTaskId(), AgentId: k.GetAgentId()}}}
		m.reconcile(fw, rec)
		return
	}
	if k.AgentId != nil && k.GetAgentId().GetValue() != t.GetAgentId().GetValue() {
		return
	}
	a := m.agents[t.GetAgentId().GetValue()]
	if a == nil {
		return
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_KillTask{KillTask: &plateaupb.KillTask{
		FrameworkId: fw.info.GetId(), TaskId: t.GetTaskId(), KillPolicy: k.GetKillPolicy()}}})
}

// shutdownExecutor is SHUTDOWN.
func (m *Master) shutdownExecutor(fw *framework, s *scheduler.Call_Shutdown) {
	a := m.agents[s.GetAgentId().GetValue()]
	if a == nil {
		return
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_ShutdownExecutor{ShutdownExecutor: &plateaupb.ShutdownExecutor{
		FrameworkId: fw.info.GetId(), ExecutorId: s.GetExecutorId()}}})
}

// frameworkMessage is MESSAGE: data for an executor.
func (m *Master) frameworkMessage(fw *framework, msg *scheduler.Call_Message) {
	a := m.agents[msg.GetAgentId().GetValue()]
	if a == nil {
		m.log.Warn("dropping framework message for unknown agent", "framework", fw.id, "agent", msg.GetAgentId().GetValue())
		return
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_FrameworkToExecutor{FrameworkToExecutor: &plateaupb.FrameworkToExecutor{
		FrameworkId: fw.info.GetId(), ExecutorId: msg.GetExecutorId(), Data: msg.GetData()}}})
}

// reconcile is RECONCILE, implicit (no tasks) or explicit, with Mesos's
// answers for tasks the master does not know.
func (m *Master) reconcile(fw *framework, r *scheduler.Call_Reconcile) {
	if len(r.GetTasks()) == 0 {
		for _, t := range fw.tasks {
			fw.send(updateEvent(reconciliationStatus(t)))
		}
		return
	}
	for _, rt := range r.GetTasks() {
		if t := fw.tasks[rt.GetTaskId().GetValue()]; t != nil {
			fw.send(updateEvent(reconciliationStatus(t)))
			continue
		}
		if t := fw.unreachableTasks[rt.GetTaskId().GetValue()]; t != nil {
			fw.send(updateEvent(reconciliationStatus(t)))
			continue
		}
		state, msg := mesos.TaskState_TASK_UNKNOWN, "Reconciliation: Task is unknown"
		agentID := rt.GetAgentId().GetValue()
		switch _, unreachable := m.unreachable[agentID]; {
		case rt.AgentId != nil && m.agents[agentID] != nil:
			state, msg = mesos.TaskState_TASK_GONE, "Reconciliation: Task is unknown to the agent"
		case rt.AgentId != nil && unreachable:
			state, msg = mesos.TaskState_TASK_UNREACHABLE, "Reconciliation: Task is unreachable"
		case rt.AgentId != nil && isGone(m.gone, agentID):
			state, msg = mesos.TaskState_TASK_GONE_BY_OPERATOR, "Reconciliation: Task is gone"
		}
		if !fw.partitionAware {
			state = mesos.TaskState_TASK_LOST
		}
		fw.send(updateEvent(&mesos.TaskStatus{
			TaskId:    rt.GetTaskId(),
			AgentId:   rt.GetAgentId(),
			State:     state.Enum(),
			Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
			Reason:    mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
			Message:   proto.String(msg),
			Timestamp: proto.Float64(nowSeconds()),
		}))
	}
}

// reconciliationStatus is the latest state of a known task, as a master
// update without a uuid (it needs no acknowledgement).
func reconciliationStatus(t *mesos.Task) *mesos.TaskStatus {
	state := t.GetState()
	if t.StatusUpdateState != nil {
		state = t.GetStatusUpdateState()
	}
	s := &mesos.TaskStatus{
		TaskId:     t.GetTaskId(),
		AgentId:    t.GetAgentId(),
		ExecutorId: t.GetExecutorId(),
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:     mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
		Message:    proto.String("Reconciliation: Latest task state"),
		Timestamp:  proto.Float64(nowSeconds()),
	}
	if n := len(t.GetStatuses()); n > 0 {
		last := t.GetStatuses()[n-1]
		s.Healthy = last.Healthy
		s.CheckStatus = last.CheckStatus
		s.ContainerStatus = last.ContainerStatus
	}
	return s
}

func updateEvent(s *mesos.TaskStatus) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_UPDATE.Enum(), Update: &scheduler.Event_Update{Status: s}}
}

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func invalid(format string, args ...any) error { return fmt.Errorf(format, args...) }

func isGone(gone map[string]time.Time, id string) bool {
	_, ok := gone[id]
	return ok
}

// reconcileOperations answers RECONCILE_OPERATIONS with
// UPDATE_OPERATION_STATUS events, as Mesos 1.11 does: the latest status
// of each operation asked about (of every known one when none is named),
// and for an unknown operation what the master knows of its agent.
func (m *Master) reconcileOperations(fw *framework, r *scheduler.Call_ReconcileOperations) {
	if len(r.GetOperations()) == 0 {
		for _, o := range fw.operations {
			fw.send(operationEvent(withoutUUID(o.GetLatestStatus())))
		}
		return
	}
	for _, op := range r.GetOperations() {
		if o := fw.operations[op.GetOperationId().GetValue()]; o != nil {
			fw.send(operationEvent(withoutUUID(o.GetLatestStatus())))
			continue
		}
		agentID := op.GetAgentId().GetValue()
		state, msg := mesos.OperationState_OPERATION_UNKNOWN, "Reconciliation: Operation is unknown"
		switch _, unreachable := m.unreachable[agentID]; {
		case op.AgentId != nil && m.agents[agentID] != nil:
			state, msg = mesos.OperationState_OPERATION_DROPPED, "Reconciliation: Operation is unknown to the agent"
		case op.AgentId != nil && unreachable:
			state, msg = mesos.OperationState_OPERATION_UNREACHABLE, "Reconciliation: Agent is unreachable"
		case op.AgentId != nil && isGone(m.gone, agentID):
			state, msg = mesos.OperationState_OPERATION_GONE_BY_OPERATOR, "Reconciliation: Agent is gone"
		}
		fw.send(operationEvent(&mesos.OperationStatus{OperationId: op.GetOperationId(), State: state.Enum(), Message: proto.String(msg),
			AgentId: op.GetAgentId(), ResourceProviderId: op.GetResourceProviderId()}))
	}
}

// withoutUUID is a status as reconciliation sends it: Mesos's
// reconciliation answers need no acknowledgement, so they carry no uuid.
func withoutUUID(s *mesos.OperationStatus) *mesos.OperationStatus {
	c := proto.Clone(s).(*mesos.OperationStatus)
	c.Uuid = nil
	return c
}
