package master

import (
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/taskstate"
)

// Agents that stay disconnected for agent_ping_timeout *
// max_agent_ping_timeouts are unreachable, as in Mesos: their tasks
// become TASK_UNREACHABLE for PARTITION_AWARE frameworks and TASK_LOST
// for the others. An unreachable agent may come back; an agent marked
// gone by the operator may not.

// watchDisconnected starts the unreachable timer of a disconnected agent.
func (m *Master) watchDisconnected(a *agent) {
	a.disconnects++
	n := a.disconnects
	timeout := m.cfg.AgentPingTimeout * time.Duration(m.cfg.MaxAgentPingTimeouts)
	a.unreachableTimer = m.after(timeout, func() {
		if cur := m.agents[a.id]; cur == a && a.link == nil && a.disconnects == n {
			m.log.Warn("agent unreachable", "agent", a.id, "after", timeout)
			m.removeAgent(a, false)
		}
	})
}

// removeAgent marks an agent unreachable (gone=false) or gone by the
// operator, ending its tasks for the frameworks.
func (m *Master) removeAgent(a *agent, gone bool) {
	now := time.Now()
	if a.unreachableTimer != nil {
		a.unreachableTimer.Stop()
	}
	for _, o := range a.offers {
		m.removeOffer(o, true)
	}
	m.alloc.RemoveAgent(a.id)
	for fwID, tasks := range a.tasks {
		fw := m.frameworks[fwID]
		for _, t := range tasks {
			if taskstate.IsTerminal(t.GetState()) {
				continue
			}
			state, reason, msg := mesos.TaskState_TASK_UNREACHABLE, mesos.TaskStatus_REASON_AGENT_REMOVED, "Agent is unreachable"
			if gone {
				state, reason, msg = mesos.TaskState_TASK_GONE_BY_OPERATOR, mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, "Agent was marked gone by the operator"
			}
			if fw == nil || !fw.partitionAware {
				state = mesos.TaskState_TASK_LOST
			}
			status := &mesos.TaskStatus{
				TaskId: t.GetTaskId(), AgentId: a.info.GetId(), ExecutorId: t.ExecutorId, State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_MASTER.Enum(), Reason: reason.Enum(), Message: proto.String(msg),
				Timestamp: proto.Float64(nowSeconds()),
			}
			if !gone {
				status.UnreachableTime = &mesos.TimeInfo{Nanoseconds: proto.Int64(now.UnixNano())}
			}
			t = withState(t, state, status)
			m.replaceTask(a, t)
			m.publish(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
				FrameworkId: t.GetFrameworkId(), Status: status, State: state.Enum()}})
			if fw == nil {
				continue
			}
			fw.deleteTask(t.GetTaskId().GetValue())
			if state == mesos.TaskState_TASK_UNREACHABLE {
				fw.unreachableTasks[t.GetTaskId().GetValue()] = t
			} else {
				fw.completedTasks = appendCompleted(fw.completedTasks, t)
			}
			fw.send(updateEvent(status))
		}
	}
	for fwID := range a.executors {
		if fw := m.frameworks[fwID]; fw != nil {
			delete(fw.executors, a.id)
		}
	}
	for _, fw := range m.frameworks {
		fw.send(&scheduler.Event{Type: scheduler.Event_FAILURE.Enum(), Failure: &scheduler.Event_Failure{AgentId: a.info.GetId()}})
	}
	if a.link != nil {
		a.link.out.Close()
	}
	delete(m.agents, a.id)
	if gone {
		m.markGone(a.id, now)
	} else {
		m.markUnreachable(a.id, now)
	}
	m.publish(&masterpb.Event{Type: masterpb.Event_AGENT_REMOVED.Enum(), AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: a.info.GetId()}})
	// The registry forgets the agent with its reservations and volumes; an
	// unreachable agent that comes back brings its own (as in Mesos).
	_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_RemoveAgent{RemoveAgent: a.info.GetId()}})
	delete(m.agentResources, a.id)
}

// reachableAgain handles the re-registration of an unreachable agent:
// PARTITION_AWARE frameworks get their tasks back as the agent reports
// them; the other frameworks were told their tasks were lost, so those
// tasks are shut down. It returns what to tell the agent once it has its
// registration answer.
func (m *Master) reachableAgain(a *agent, reg *plateaupb.RegisterAgent) (after func()) {
	delete(m.unreachable, a.id)
	_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_MarkReachable{MarkReachable: a.info.GetId()}})
	shutdown := map[string]bool{}
	for _, t := range reg.GetTasks() {
		fwID := t.GetFrameworkId().GetValue()
		fw := m.frameworks[fwID]
		if fw == nil || fw.partitionAware {
			if fw != nil {
				delete(fw.unreachableTasks, t.GetTaskId().GetValue())
				fw.send(updateEvent(&mesos.TaskStatus{
					TaskId: t.GetTaskId(), AgentId: a.info.GetId(), ExecutorId: t.ExecutorId, State: t.State,
					Source: mesos.TaskStatus_SOURCE_MASTER.Enum(), Reason: mesos.TaskStatus_REASON_AGENT_REREGISTERED.Enum(),
					Message: proto.String("Agent re-registered"), Timestamp: proto.Float64(nowSeconds()),
				}))
			}
			continue
		}
		shutdown[fwID] = true
	}
	after = func() {
		for fwID := range shutdown {
			m.log.Info("shutting down a non-partition-aware framework's tasks on a returning agent", "agent", a.id, "framework", fwID)
			a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_ShutdownFramework{ShutdownFramework: &plateaupb.ShutdownFramework{
				FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}}}})
		}
	}
	// The shut-down frameworks' tasks are not adopted.
	kept := reg.GetTasks()[:0:0]
	for _, t := range reg.GetTasks() {
		if !shutdown[t.GetFrameworkId().GetValue()] {
			kept = append(kept, t)
		}
	}
	reg.Tasks = kept
	return after
}

func appendCompleted(list []*mesos.Task, t *mesos.Task) []*mesos.Task {
	list = append(list, t)
	if len(list) > maxCompletedTasks {
		list = list[1:]
	}
	return list
}

// markUnreachable and markGone remember a removed agent, in the registry
// too, within --registry_max_agent_age and --registry_max_agent_count.
// Run on the loop.
func (m *Master) markUnreachable(id string, at time.Time) {
	m.unreachable[id] = at
	_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_MarkUnreachable{MarkUnreachable: removedAgent(id, at)}})
	m.pruneRemoved(at)
}

func (m *Master) markGone(id string, at time.Time) {
	delete(m.unreachable, id)
	m.gone[id] = at
	_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_MarkGone{MarkGone: removedAgent(id, at)}})
	m.pruneRemoved(at)
}

func removedAgent(id string, at time.Time) *plateaupb.RemovedAgent {
	return &plateaupb.RemovedAgent{AgentId: &mesos.AgentID{Value: proto.String(id)}, Time: &mesos.TimeInfo{Nanoseconds: proto.Int64(at.UnixNano())}}
}

// pruneRemoved forgets removed agents older than --registry_max_agent_age,
// then the oldest beyond --registry_max_agent_count, as Mesos's registry
// does.
func (m *Master) pruneRemoved(now time.Time) {
	var forget []*mesos.AgentID
	for _, list := range []map[string]time.Time{m.unreachable, m.gone} {
		type entry struct {
			id string
			at time.Time
		}
		var kept []entry
		for id, at := range list {
			if now.Sub(at) > m.cfg.RegistryMaxAgentAge {
				delete(list, id)
				forget = append(forget, &mesos.AgentID{Value: proto.String(id)})
			} else {
				kept = append(kept, entry{id, at})
			}
		}
		if excess := len(kept) - m.cfg.RegistryMaxAgentCount; excess > 0 {
			sort.Slice(kept, func(i, j int) bool { return kept[i].at.Before(kept[j].at) })
			for _, e := range kept[:excess] {
				delete(list, e.id)
				forget = append(forget, &mesos.AgentID{Value: proto.String(e.id)})
			}
		}
	}
	if len(forget) > 0 {
		_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_ForgetAgents{ForgetAgents: &plateaupb.ForgetAgents{AgentIds: forget}}})
	}
}
