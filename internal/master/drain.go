package master

import (
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/taskstate"
)

// Deactivating an agent stops its offers; draining also kills its tasks
// (each with the drain's max grace period, when set) and, once they have
// all ended, marks it DRAINED, or gone when asked. Runs on the loop.

func (m *Master) deactivateAgent(a *agent) {
	a.deactivated = true
	m.alloc.DeactivateAgent(a.id)
	for _, o := range a.offers {
		m.removeOffer(o, true)
	}
}

func (m *Master) reactivateAgent(a *agent) {
	a.deactivated = false
	a.drain = nil
	if a.link != nil {
		m.alloc.ActivateAgent(a.id)
		m.dirtyAgents[a.id] = struct{}{}
	}
}

func (m *Master) drainAgent(a *agent, cfg *mesos.DrainConfig) {
	m.deactivateAgent(a)
	a.drain = &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: cfg}
	for fwID, tasks := range a.tasks {
		for _, t := range tasks {
			if taskstate.IsTerminal(t.GetState()) {
				continue
			}
			k := &plateaupb.KillTask{FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}, TaskId: t.GetTaskId()}
			if g := cfg.GetMaxGracePeriod(); g != nil {
				k.KillPolicy = &mesos.KillPolicy{GracePeriod: g}
			}
			a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_KillTask{KillTask: k}})
		}
	}
	m.checkDrained(a)
}

// checkDrained finishes a drain once no task runs on the agent.
func (m *Master) checkDrained(a *agent) {
	if a.drain == nil || a.drain.GetState() != mesos.DrainState_DRAINING {
		return
	}
	for _, tasks := range a.tasks {
		for _, t := range tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				return
			}
		}
	}
	m.log.Info("agent drained", "agent", a.id)
	a.drain = &mesos.DrainInfo{State: mesos.DrainState_DRAINED.Enum(), Config: a.drain.GetConfig()}
	if a.drain.GetConfig().GetMarkGone() {
		m.removeAgent(a, true)
	}
}
