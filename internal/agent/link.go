package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/queue"
	"github.com/plateau/plateau/internal/zk"
)

// maxRegistrationBackoff caps the wait between registration attempts.
const maxRegistrationBackoff = 30 * time.Second

// masterPingInterval is how often the agent pings a silent master, and how
// long it waits for the answer (gRPC makes it at least 10 s).
const masterPingInterval = 10 * time.Second

// linkLoop keeps the agent connected to its master: it opens the
// AgentLink stream, (re-)registers, relays messages both ways, and starts
// again with backoff whenever the stream breaks, until ctx ends.
//
// With several masters, the agent tries them in turn: only the leader
// accepts it.
func (a *Agent) linkLoop(ctx context.Context) {
	backoff := a.cfg.RegistrationBackoffFactor
	standbys := false // a master of this round answered that it does not lead
	masters := a.masters(ctx)
	for i := 0; ctx.Err() == nil; i = (i + 1) % len(masters) {
		if i == 0 {
			masters = a.masters(ctx) // a new round: ZooKeeper may name another leader
		}
		var registered bool
		conn, err := a.conn(masters[i])
		if err == nil {
			registered, err = a.session(ctx, plateaupb.NewAgentLinkClient(conn))
		}
		if ctx.Err() != nil {
			return
		}
		if registered {
			backoff = a.cfg.RegistrationBackoffFactor
		}
		standbys = standbys || status.Code(err) == codes.FailedPrecondition
		a.log.Warn("disconnected from master; will register again", "master", masters[i], "err", err)
		if !registered && len(masters) > 1 && (i+1)%len(masters) != 0 {
			continue // the next master may lead: no wait
		}
		if standbys {
			// An election is under way: keep trying at the first pace.
			backoff, standbys = a.cfg.RegistrationBackoffFactor, false
		}
		// Mesos waits a random time up to the backoff, doubling it.
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		backoff = min(2*backoff, maxRegistrationBackoff)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// masters lists the masters to try: --master's, or the leader published
// in ZooKeeper.
func (a *Agent) masters(ctx context.Context) []string {
	if !zk.IsURL(a.cfg.Master) {
		return a.cfg.masters()
	}
	leader, err := zk.Leader(ctx, a.cfg.Master)
	if err != nil {
		a.log.Warn("no leading master in ZooKeeper yet", "zk", a.cfg.Master, "err", err)
		return []string{""}
	}
	return []string{leader}
}

// conn is the gRPC connection to a master, made once.
func (a *Agent) conn(addr string) (*grpc.ClientConn, error) {
	if addr == "" {
		return nil, errors.New("no master to register with")
	}
	if c := a.conns[addr]; c != nil {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Pings find a master that vanished without closing the
		// connection (its host cut off), so that the agent looks for the
		// new leader.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: masterPingInterval, Timeout: masterPingInterval, PermitWithoutStream: true}))
	if err != nil {
		return nil, err
	}
	a.conns[addr] = c
	return c, nil
}

// session runs one AgentLink stream; it reports whether the master
// accepted the registration.
func (a *Agent) session(ctx context.Context, client plateaupb.AgentLinkClient) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Connect(ctx)
	if err != nil {
		return false, err
	}
	var reg *plateaupb.RegisterAgent
	if err := a.do(ctx, func() { reg = a.registration() }); err != nil {
		return false, err
	}
	if err := stream.Send(&plateaupb.AgentMessage{Message: &plateaupb.AgentMessage_Register{Register: reg}}); err != nil {
		return false, err
	}
	first, err := stream.Recv()
	if err != nil {
		return false, err
	}
	if first.GetRegistered() == nil {
		return false, errors.New("master did not answer the registration")
	}
	out := queue.New[*plateaupb.AgentMessage]()
	if err := a.do(ctx, func() { a.registered(first.GetRegistered(), out) }); err != nil {
		return true, err
	}
	defer a.post(func() {
		if a.link == out {
			a.link = nil
		}
	})
	defer out.Close()

	recvErr := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			a.post(func() { a.masterMessage(msg) })
		}
	}()
	sendErr := make(chan error, 1)
	go func() { sendErr <- out.Drain(ctx.Done(), stream.Send, nil) }()
	select {
	case err := <-sendErr:
		if err == nil {
			err = errors.New("link closed")
		}
		return true, err
	case err := <-recvErr:
		return true, err
	}
}

// registration describes the agent, and when re-registering what it runs.
func (a *Agent) registration() *plateaupb.RegisterAgent {
	reg := &plateaupb.RegisterAgent{
		AgentInfo: proto.Clone(a.info).(*mesos.AgentInfo),
		Version:   proto.String(agentVersion()),
		Endpoint:  proto.String(a.endpoint()),
		Capabilities: []*mesos.AgentInfo_Capability{
			{Type: mesos.AgentInfo_Capability_MULTI_ROLE.Enum()},
			{Type: mesos.AgentInfo_Capability_HIERARCHICAL_ROLE.Enum()},
			{Type: mesos.AgentInfo_Capability_RESERVATION_REFINEMENT.Enum()},
			{Type: mesos.AgentInfo_Capability_AGENT_OPERATION_FEEDBACK.Enum()},
		},
		CheckpointedResources: a.checkpointed,
	}
	for _, fw := range a.frameworks {
		reg.Frameworks = append(reg.Frameworks, fw.info)
		for _, e := range fw.executors {
			if !e.command {
				reg.Executors = append(reg.Executors, e.info)
			}
			for _, t := range e.tasks {
				reg.Tasks = append(reg.Tasks, t)
			}
		}
	}
	return reg
}

// registered records the master's answer and resends what the framework
// has not acknowledged yet.
func (a *Agent) registered(r *plateaupb.AgentRegistered, out *queue.Queue[*plateaupb.AgentMessage]) {
	if a.info.Id == nil || a.info.GetId().GetValue() != r.GetAgentId().GetValue() {
		a.info.Id = r.GetAgentId()
		a.checkpointAgent()
	}
	a.link = out
	a.log.Info("registered with master", "agent", a.info.GetId().GetValue(), "reregistered", r.GetReregistered())
	for _, u := range a.updates.heads() {
		a.forward(u)
	}
}

// masterMessage dispatches a message from the master.
func (a *Agent) masterMessage(msg *plateaupb.MasterMessage) {
	switch m := msg.GetMessage().(type) {
	case *plateaupb.MasterMessage_RunTask:
		a.runTask(m.RunTask.GetFramework(), nil, m.RunTask.GetTask(), nil)
	case *plateaupb.MasterMessage_RunTaskGroup:
		g := m.RunTaskGroup
		a.runTask(g.GetFramework(), g.GetExecutor(), nil, g.GetTaskGroup())
	case *plateaupb.MasterMessage_KillTask:
		a.killTask(m.KillTask)
	case *plateaupb.MasterMessage_ShutdownFramework:
		a.shutdownFramework(m.ShutdownFramework.GetFrameworkId().GetValue())
	case *plateaupb.MasterMessage_ShutdownExecutor:
		if e := a.executor(m.ShutdownExecutor.GetFrameworkId().GetValue(), m.ShutdownExecutor.GetExecutorId().GetValue()); e != nil {
			a.shutdownExecutor(e)
		}
	case *plateaupb.MasterMessage_Acknowledgement:
		a.acknowledgement(m.Acknowledgement)
	case *plateaupb.MasterMessage_FrameworkToExecutor:
		f := m.FrameworkToExecutor
		if e := a.executor(f.GetFrameworkId().GetValue(), f.GetExecutorId().GetValue()); e != nil {
			e.sendMessage(f.GetData())
		}
	case *plateaupb.MasterMessage_UpdateFramework:
		if fw := a.frameworks[m.UpdateFramework.GetFrameworkInfo().GetId().GetValue()]; fw != nil {
			fw.info = m.UpdateFramework.GetFrameworkInfo()
		}
	case *plateaupb.MasterMessage_ShutdownAgent:
		a.log.Error("the master told this agent to shut down", "reason", m.ShutdownAgent.GetMessage())
		for id := range a.frameworks {
			a.shutdownFramework(id)
		}
		a.stopOnce.Do(func() { close(a.stopRequested) })
	case *plateaupb.MasterMessage_CheckpointResources:
		a.checkpointResources(m.CheckpointResources)
	case *plateaupb.MasterMessage_Registered:
		// A duplicate answer; nothing to do.
	default:
		a.log.Warn("ignoring unknown message from master")
	}
}
