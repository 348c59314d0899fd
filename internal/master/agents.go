package master

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/queue"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/allocator"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// agentLinkServer serves AgentLink.Connect: one stream per agent.
type agentLinkServer struct {
	plateaupb.UnimplementedAgentLinkServer
	m *Master
}

// Connect registers the agent, then relays its messages to the master's
// loop while a goroutine writes the master's messages to the agent.
func (s *agentLinkServer) Connect(stream plateaupb.AgentLink_ConnectServer) error {
	m := s.m
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := first.GetRegister()
	if reg == nil {
		return status.Error(codes.InvalidArgument, "the first message must be 'register'")
	}
	if !m.leading.Load() {
		return status.Error(codes.FailedPrecondition, m.errNotLeader().Error())
	}
	link := &agentLink{out: queue.New[*plateaupb.MasterMessage]()}
	var agentID string
	if doErr := m.do(stream.Context(), func() { agentID, err = m.registerAgent(reg, link) }); doErr != nil {
		return status.Error(codes.Unavailable, doErr.Error())
	}
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	defer m.post(func() { m.agentDisconnected(agentID, link) })

	sendErr := make(chan error, 1)
	go func() {
		sendErr <- link.out.Drain(stream.Context().Done(), stream.Send, nil)
	}()
	recvErr := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			m.post(func() { m.agentMessage(agentID, link, msg) })
		}
	}()
	select {
	case err = <-sendErr:
		if err == nil {
			err = errors.New("link closed by the master")
		}
	case err = <-recvErr:
	}
	link.out.Close()
	return err
}

// registerAgent admits a new agent or re-admits a known one, and queues
// the answer on its link. Runs on the loop.
func (m *Master) registerAgent(reg *plateaupb.RegisterAgent, link *agentLink) (string, error) {
	info := proto.Clone(reg.GetAgentInfo()).(*mesos.AgentInfo)
	info.Resources = resources.UpgradeAll(info.GetResources())
	if err := resources.Validate(info.GetResources()); err != nil {
		return "", fmt.Errorf("invalid agent resources: %w", err)
	}
	now := time.Now()
	afterRegistered := func() {}
	reregistered := info.Id != nil
	if !reregistered {
		info.Id = &mesos.AgentID{Value: proto.String(fmt.Sprintf("%s-S%d", m.info.GetId(), m.nextAgent))}
		m.nextAgent++
	}
	id := info.GetId().GetValue()
	if _, gone := m.gone[id]; gone {
		return "", fmt.Errorf("agent %s was marked gone and may not register again; start it with a fresh --work_dir", id)
	}
	if err := m.machineDown(info, reg.GetEndpoint()); err != nil {
		return "", err
	}
	total, checkpointed, err := m.agentTotal(id, info, reg)
	if err != nil {
		return "", err
	}
	if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_AdmitAgent{AdmitAgent: info}}); err != nil {
		return "", err
	}
	a := m.agents[id]
	if a != nil {
		// A known agent reconnects: the old link is closed and what the
		// agent reports replaces what the master remembers.
		if a.link != nil {
			a.link.out.Close()
		}
		if a.unreachableTimer != nil {
			a.unreachableTimer.Stop()
		}
		m.log.Info("agent re-registered", "agent", id, "endpoint", reg.GetEndpoint())
		m.counts.agentReregistration++
		a.info, a.endpoint, a.version, a.link = info, reg.GetEndpoint(), reg.GetVersion(), link
		a.reregistered = now
		m.reconcileAgent(a, reg)
		if !resources.Resources(a.total).Equal(total) {
			a.total = total
			m.alloc.UpdateAgentTotal(id, total)
		}
		a.active = true
		if !a.deactivated {
			m.alloc.ActivateAgent(id)
		}
	} else {
		a = &agent{
			id: id, info: info, endpoint: reg.GetEndpoint(), version: reg.GetVersion(), total: total,
			link: link, active: true, registered: now,
			offers:    map[string]*offer{},
			tasks:     map[string]map[string]*mesos.Task{},
			executors: map[string]map[string]*mesos.ExecutorInfo{},
		}
		m.agents[id] = a
		if _, was := m.unreachable[id]; was {
			afterRegistered = m.reachableAgain(a, reg)
		}
		if reregistered {
			// The master does not remember this agent (it restarted):
			// take its frameworks, executors and tasks as they are.
			m.adoptAgentState(a, reg, false)
		}
		m.alloc.AddAgent(id, allocator.Agent{Hostname: info.GetHostname()}, total, a.usedResources())
		m.counts.agentRegistrations++
		m.publish(&masterpb.Event{Type: masterpb.Event_AGENT_ADDED.Enum(), AgentAdded: &masterpb.Event_AgentAdded{Agent: a.snapshot().proto()}})
		m.log.Info("agent registered", "agent", id, "hostname", info.GetHostname(), "endpoint", reg.GetEndpoint(), "resources", total.String())
	}
	link.out.Push(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_Registered{Registered: &plateaupb.AgentRegistered{
		AgentId: info.GetId(), Reregistered: proto.Bool(reregistered)}}})
	if !checkpointed.Equal(reg.GetCheckpointedResources()) {
		// The master's view wins: the agent missed an operation.
		link.out.Push(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_CheckpointResources{
			CheckpointResources: &plateaupb.CheckpointResources{Resources: checkpointed}}})
	}
	afterRegistered()
	m.dirtyAgents[id] = struct{}{}
	return id, nil
}

// agentTotal computes a registering agent's total from its static
// resources and its dynamic reservations and volumes. The master's view of
// those (kept in the registry) wins over the agent's, which may have missed
// an operation; an agent the master knows nothing of brings its own.
func (m *Master) agentTotal(id string, info *mesos.AgentInfo, reg *plateaupb.RegisterAgent) (total, checkpointed resources.Resources, err error) {
	checkpointed = resources.UpgradeAll(reg.GetCheckpointedResources())
	if a := m.agents[id]; a != nil {
		checkpointed = a.total.Checkpointed()
	} else if known, ok := m.agentResources[id]; ok {
		checkpointed = known
	}
	if err := resources.Validate(checkpointed); err != nil {
		return nil, nil, fmt.Errorf("invalid checkpointed resources: %w", err)
	}
	total, err = resources.ApplyCheckpointed(info.GetResources(), checkpointed)
	if err != nil {
		return nil, nil, err
	}
	if !checkpointed.Equal(m.agentResources[id]) {
		if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateAgentResources{
			UpdateAgentResources: &plateaupb.AgentResources{AgentId: info.GetId(), Resources: checkpointed}}}); err != nil {
			return nil, nil, err
		}
	}
	m.agentResources[id] = checkpointed
	return total, checkpointed, nil
}

// reconcileAgent brings a re-registering agent's record in line with what
// it reports: tasks the agent no longer knows are lost, tasks it knows that
// the master does not are adopted.
func (m *Master) reconcileAgent(a *agent, reg *plateaupb.RegisterAgent) {
	reported := map[string]*mesos.Task{}
	for _, t := range reg.GetTasks() {
		reported[t.GetFrameworkId().GetValue()+"/"+t.GetTaskId().GetValue()] = t
	}
	for fwID, tasks := range a.tasks {
		fw := m.frameworks[fwID]
		for id, t := range tasks {
			if reported[fwID+"/"+id] != nil {
				continue
			}
			if taskstate.IsTerminal(t.GetState()) {
				continue
			}
			state := mesos.TaskState_TASK_LOST
			if fw != nil && fw.partitionAware {
				state = mesos.TaskState_TASK_DROPPED
			}
			status := &mesos.TaskStatus{
				TaskId: t.GetTaskId(), AgentId: a.info.GetId(), State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_MASTER.Enum(), Reason: mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
				Message: proto.String("Task was not found on the re-registered agent"), Timestamp: proto.Float64(nowSeconds()),
			}
			m.statusUpdate(a, &plateaupb.StatusUpdate{FrameworkId: t.GetFrameworkId(), Status: status})
		}
	}
	m.adoptAgentState(a, reg, true)
}

// adoptAgentState records the frameworks, executors and tasks an agent
// reports that the master does not know. tracked says whether the
// allocator already tracks the agent (and so must be told what they use).
func (m *Master) adoptAgentState(a *agent, reg *plateaupb.RegisterAgent, tracked bool) {
	now := time.Now()
	for _, info := range reg.GetFrameworks() {
		id := info.GetId().GetValue()
		if m.frameworks[id] != nil {
			continue
		}
		fw := newFramework(id, now)
		m.setFrameworkInfo(fw, proto.Clone(info).(*mesos.FrameworkInfo))
		m.frameworks[id] = fw
		m.alloc.AddFramework(id, allocatorFramework(fw.info), nil, false)
	}
	for _, e := range reg.GetExecutors() {
		fw := m.frameworks[e.GetFrameworkId().GetValue()]
		if fw != nil && a.executors[fw.id][e.GetExecutorId().GetValue()] == nil {
			m.addExecutor(fw, a, e)
			if tracked {
				m.alloc.Allocated(fw.id, a.id, e.GetResources())
			}
		}
	}
	for _, t := range reg.GetTasks() {
		fw := m.frameworks[t.GetFrameworkId().GetValue()]
		if fw == nil || a.tasks[fw.id][t.GetTaskId().GetValue()] != nil {
			continue
		}
		m.addTask(fw, a, t)
		if tracked && !taskstate.IsTerminal(t.GetState()) {
			m.alloc.Allocated(fw.id, a.id, t.GetResources())
		}
	}
}

// agentDisconnected handles the end of an agent's link: its offers are
// rescinded and it gets no new ones until it re-registers. Its tasks stay.
func (m *Master) agentDisconnected(id string, link *agentLink) {
	a := m.agents[id]
	if a == nil || a.link != link {
		return // a newer link replaced this one
	}
	m.log.Info("agent disconnected", "agent", id)
	m.watchDisconnected(a)
	a.link = nil
	a.active = false
	m.alloc.DeactivateAgent(id)
	for _, o := range a.offers {
		m.removeOffer(o, true)
	}
}

// agentMessage dispatches a message from a registered agent.
func (m *Master) agentMessage(id string, link *agentLink, msg *plateaupb.AgentMessage) {
	a := m.agents[id]
	if a == nil || a.link != link {
		return
	}
	switch {
	case msg.GetStatusUpdate() != nil:
		m.statusUpdate(a, msg.GetStatusUpdate())
	case msg.GetExecutorExited() != nil:
		m.executorExited(a, msg.GetExecutorExited())
	case msg.GetResourcesCheckpointed() != nil:
		m.resourcesCheckpointed(a, msg.GetResourcesCheckpointed())
	case msg.GetExecutorToFramework() != nil:
		e := msg.GetExecutorToFramework()
		if fw := m.frameworks[e.GetFrameworkId().GetValue()]; fw != nil {
			fw.send(&scheduler.Event{Type: scheduler.Event_MESSAGE.Enum(), Message: &scheduler.Event_Message{
				AgentId: a.info.GetId(), ExecutorId: e.GetExecutorId(), Data: e.GetData()}})
		}
	default:
		m.log.Warn("ignoring unexpected message from agent", "agent", id)
	}
}

func splitHostPort(hp string) (string, int) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
