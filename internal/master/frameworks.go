package master

import (
	"fmt"
	"time"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/queue"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/allocator"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// subscribe admits a new framework or re-subscribes a known one (scheduler
// failover), and returns the new event stream. Runs on the loop.
func (m *Master) subscribe(sub *scheduler.Call_Subscribe, streamID string) (*subscription, error) {
	info := proto.Clone(sub.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	if err := m.validateFrameworkInfo(info); err != nil {
		return nil, badRequest("Invalid FrameworkInfo: %v", err)
	}
	now := time.Now()
	var fw *framework
	if info.Id != nil {
		id := info.GetId().GetValue()
		for _, done := range m.completedFrameworks {
			if done.id == id {
				return nil, forbidden(fmt.Sprintf("Framework %s has been removed", id))
			}
		}
		fw = m.frameworks[id]
	}
	if fw == nil {
		if info.Id == nil {
			info.Id = &mesos.FrameworkID{Value: proto.String(fmt.Sprintf("%s-%04d", m.info.GetId(), m.nextFramework))}
			m.nextFramework++
		}
		fw = newFramework(info.GetId().GetValue(), now)
		m.frameworks[fw.id] = fw
		m.setFrameworkInfo(fw, info)
		m.alloc.AddFramework(fw.id, allocatorFramework(info), m.usedByFramework(fw.id), true)
		m.log.Info("framework subscribed", "framework", fw.id, "name", info.GetName(), "roles", frameworkRoles(info))
		defer m.publishFramework(masterpb.Event_FRAMEWORK_ADDED, fw)
	} else {
		// Failover: the old connection, if any, is told and closed.
		if fw.stream != nil {
			fw.send(errorEvent("Framework failed over"))
			fw.stream.Close()
		}
		if fw.failover != nil {
			fw.failover.Stop()
			fw.failover = nil
		}
		m.setFrameworkInfo(fw, info)
		fw.reregistered = now
		m.alloc.UpdateFramework(fw.id, allocatorFramework(info))
		m.alloc.ActivateFramework(fw.id)
		for agentID := range m.agentsOf(fw) {
			m.agents[agentID].send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_UpdateFramework{
				UpdateFramework: &plateaupb.UpdateFramework{FrameworkInfo: info}}})
		}
		m.log.Info("framework re-subscribed", "framework", fw.id, "name", info.GetName())
		defer m.publishFramework(masterpb.Event_FRAMEWORK_UPDATED, fw)
	}
	if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_AddFramework{AddFramework: info}}); err != nil {
		return nil, err
	}
	fw.epoch++
	fw.active = true
	fw.streamID = streamID
	fw.stream = queue.New[*scheduler.Event]()
	if len(sub.GetSuppressedRoles()) > 0 {
		m.alloc.SuppressOffers(fw.id, sub.GetSuppressedRoles())
	}
	fw.send(&scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED.Enum(),
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkId:              info.GetId(),
			HeartbeatIntervalSeconds: proto.Float64(m.cfg.HeartbeatInterval.Seconds()),
			MasterInfo:               m.info,
		},
	})
	m.resendOperationStatuses(fw)
	m.fullCycle = true
	return &subscription{frameworkID: fw.id, events: fw.stream}, nil
}

func (m *Master) setFrameworkInfo(fw *framework, info *mesos.FrameworkInfo) {
	fw.info = info
	fw.partitionAware = hasCapability(info, mesos.FrameworkInfo_Capability_PARTITION_AWARE)
	fw.multiRole = hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE)
}

func allocatorFramework(info *mesos.FrameworkInfo) allocator.Framework {
	fw := allocator.Framework{
		Roles:                 frameworkRoles(info),
		MultiRole:             hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE),
		ReservationRefinement: hasCapability(info, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT),
	}
	// offer_filters: per role, the minimum offer sizes that replace
	// --min_allocatable_resources (an empty list accepts any offer).
	for role, f := range info.GetOfferFilters() {
		mins := f.GetMinAllocatableResources()
		if mins == nil {
			continue
		}
		if fw.MinAllocatable == nil {
			fw.MinAllocatable = map[string][]resources.Quantities{}
		}
		list := []resources.Quantities{}
		for _, q := range mins.GetQuantities() {
			list = append(list, quantities(q.GetQuantities()))
		}
		fw.MinAllocatable[role] = list
	}
	return fw
}

// usedByFramework sums, per agent, what a framework's tasks and executors
// use (for a framework the master learnt of from re-registering agents).
func (m *Master) usedByFramework(fwID string) map[string]resources.Resources {
	used := map[string]resources.Resources{}
	for id, a := range m.agents {
		if r, ok := a.usedResources()[fwID]; ok {
			used[id] = r
		}
	}
	return used
}

// agentsOf lists the agents where a framework has tasks or executors.
func (m *Master) agentsOf(fw *framework) map[string]struct{} {
	ids := map[string]struct{}{}
	for _, t := range fw.tasks {
		ids[t.GetAgentId().GetValue()] = struct{}{}
	}
	for id := range fw.executors {
		ids[id] = struct{}{}
	}
	for id := range ids {
		if m.agents[id] == nil {
			delete(ids, id)
		}
	}
	return ids
}

// frameworkDisconnected handles a scheduler hanging up: the framework is
// deactivated, its offers rescinded, and it is removed unless it
// re-subscribes within its failover_timeout.
func (m *Master) frameworkDisconnected(fwID, streamID string) {
	fw := m.frameworks[fwID]
	if fw == nil || fw.streamID != streamID || fw.stream == nil {
		return // already failed over or removed
	}
	fw.stream.Close()
	fw.stream = nil
	fw.active = false
	m.alloc.DeactivateFramework(fw.id)
	for _, o := range fw.offers {
		m.removeOffer(o, false)
	}
	m.log.Info("framework disconnected", "framework", fw.id, "failover_timeout", fw.info.GetFailoverTimeout())
	m.startFailover(fw)
}

// startFailover removes a disconnected framework unless it re-subscribes
// within its failover_timeout.
func (m *Master) startFailover(fw *framework) {
	timeout := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	epoch := fw.epoch
	fw.failover = m.after(timeout, func() {
		if cur := m.frameworks[fw.id]; cur == fw && fw.epoch == epoch && fw.stream == nil {
			m.log.Info("framework failover timeout expired", "framework", fw.id)
			m.removeFramework(fw)
		}
	})
}

// removeFramework tears a framework down: its executors are shut down, its
// tasks killed, its offers rescinded and its resources recovered.
func (m *Master) removeFramework(fw *framework) {
	m.log.Info("removing framework", "framework", fw.id, "name", fw.info.GetName())
	for _, o := range fw.offers {
		m.removeOffer(o, false)
	}
	for agentID := range m.agentsOf(fw) {
		m.agents[agentID].send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_ShutdownFramework{
			ShutdownFramework: &plateaupb.ShutdownFramework{FrameworkId: fw.info.GetId()}}})
	}
	for _, t := range fw.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			t = withState(t, mesos.TaskState_TASK_KILLED, nil)
		}
		m.removeTask(fw, t)
	}
	for agentID, execs := range fw.executors {
		for execID := range execs {
			m.removeExecutor(fw, agentID, execID)
		}
	}
	if fw.failover != nil {
		fw.failover.Stop()
	}
	if fw.stream != nil {
		fw.stream.Close()
		fw.stream = nil
	}
	fw.active = false
	fw.unregistered = time.Now()
	m.alloc.RemoveFramework(fw.id)
	delete(m.frameworks, fw.id)
	_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_RemoveFramework{RemoveFramework: fw.info.GetId()}})
	m.publish(&masterpb.Event{Type: masterpb.Event_FRAMEWORK_REMOVED.Enum(), FrameworkRemoved: &masterpb.Event_FrameworkRemoved{FrameworkInfo: fw.info}})
	m.completedFrameworks = append(m.completedFrameworks, fw)
	if len(m.completedFrameworks) > maxCompletedFrameworks {
		m.completedFrameworks = m.completedFrameworks[1:]
	}
}

func errorEvent(msg string) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_ERROR.Enum(), Error: &scheduler.Event_Error{Message: proto.String(msg)}}
}

// publishFramework tells operator subscribers of a new or changed
// framework.
func (m *Master) publishFramework(t masterpb.Event_Type, fw *framework) {
	p := fw.snapshot().proto()
	ev := &masterpb.Event{Type: t.Enum()}
	if t == masterpb.Event_FRAMEWORK_ADDED {
		ev.FrameworkAdded = &masterpb.Event_FrameworkAdded{Framework: p}
	} else {
		ev.FrameworkUpdated = &masterpb.Event_FrameworkUpdated{Framework: p}
	}
	m.publish(ev)
}
