package master

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/allocator"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

// allocate runs an allocation cycle and sends the resulting offers, one
// OFFERS event per framework. A full cycle looks at every agent; otherwise
// only agents whose resources were freed since the last cycle are offered,
// unless a framework arrived or revived.
func (m *Master) allocate(full bool) {
	now := time.Now()
	full = full || m.fullCycle
	defer func() { m.prom.allocation.Observe(time.Since(now).Seconds()) }()
	if !full && len(m.dirtyAgents) == 0 {
		return
	}
	var allocs []allocator.Allocation
	if full {
		allocs = m.alloc.Allocate(now)
	} else {
		ids := make([]string, 0, len(m.dirtyAgents))
		for id := range m.dirtyAgents {
			ids = append(ids, id)
		}
		allocs = m.alloc.AllocateAgents(now, ids)
	}
	m.fullCycle = false
	clear(m.dirtyAgents)

	batches := map[*framework][]*mesos.Offer{}
	for _, al := range allocs {
		fw, a := m.frameworks[al.FrameworkID], m.agents[al.AgentID]
		if fw == nil || !fw.active || fw.stream == nil || a == nil || a.link == nil {
			m.alloc.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
			continue
		}
		o := m.newOffer(fw, a, al)
		batches[fw] = append(batches[fw], o.offer)
		m.counts.offersSent++
	}
	for fw, offers := range batches {
		fw.send(&scheduler.Event{Type: scheduler.Event_OFFERS.Enum(), Offers: &scheduler.Event_Offers{Offers: offers}})
	}
	m.sendInverseOffers()
}

func (m *Master) newOffer(fw *framework, a *agent, al allocator.Allocation) *offer {
	id := fmt.Sprintf("%s-O%d", m.info.GetId(), m.nextOffer)
	m.nextOffer++
	mo := &mesos.Offer{
		Id:             &mesos.OfferID{Value: proto.String(id)},
		FrameworkId:    fw.info.GetId(),
		AgentId:        a.info.GetId(),
		Hostname:       proto.String(a.info.GetHostname()),
		Resources:      al.Resources,
		Attributes:     a.info.GetAttributes(),
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String(al.Role)},
		Url:            agentURL(a),
		Unavailability: m.unavailabilityOf(a),
	}
	for fwID, execs := range a.executors {
		if fwID != fw.id {
			continue
		}
		for _, e := range execs {
			mo.ExecutorIds = append(mo.ExecutorIds, e.GetExecutorId())
		}
	}
	o := &offer{offer: mo, frameworkID: fw.id, agentID: a.id, resources: al.Resources}
	m.offers[id] = o
	fw.offers[id] = o
	a.offers[id] = o
	if m.cfg.OfferTimeout > 0 {
		o.timeout = m.after(m.cfg.OfferTimeout, func() {
			if m.offers[id] == o {
				m.log.Info("offer timed out", "offer", id, "framework", fw.id)
				m.removeOffer(o, true)
			}
		})
	}
	return o
}

// agentURL is the agent's URL as offers carry it.
func agentURL(a *agent) *mesos.URL {
	host, port := splitHostPort(a.endpoint)
	return &mesos.URL{
		Scheme:  proto.String("http"),
		Address: &mesos.Address{Hostname: proto.String(a.info.GetHostname()), Ip: proto.String(host), Port: proto.Int32(int32(port))},
		Path:    proto.String("/slave(1)"),
	}
}

// removeOffer withdraws an offer and returns its resources to the
// allocator; rescind also tells the framework (RESCIND).
func (m *Master) removeOffer(o *offer, rescind bool) {
	m.dropOffer(o)
	m.alloc.Recover(o.frameworkID, o.agentID, o.resources, time.Now(), 0)
	m.dirtyAgents[o.agentID] = struct{}{}
	if rescind {
		m.counts.offersRescinded++
		if fw := m.frameworks[o.frameworkID]; fw != nil {
			fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND.Enum(), Rescind: &scheduler.Event_Rescind{OfferId: o.offer.GetId()}})
		}
	}
}

// removeOfferWithFilter is a decline: the resources go back to the pool
// but not to this framework on this agent for refuse.
func (m *Master) removeOfferWithFilter(o *offer, refuse time.Duration) {
	m.dropOffer(o)
	now := time.Now()
	m.alloc.Recover(o.frameworkID, o.agentID, o.resources, now, refuse)
	m.dirtyAgents[o.agentID] = struct{}{}
	if refuse > 0 {
		m.addFilter(now.Add(refuse))
	}
}

// dropOffer forgets an offer without recovering its resources (used when
// it is accepted).
func (m *Master) dropOffer(o *offer) {
	id := o.offer.GetId().GetValue()
	delete(m.offers, id)
	if fw := m.frameworks[o.frameworkID]; fw != nil {
		delete(fw.offers, id)
	}
	if a := m.agents[o.agentID]; a != nil {
		delete(a.offers, id)
	}
	if o.timeout != nil {
		o.timeout.Stop()
	}
}
