package master

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// Operations that change resources in place: RESERVE, UNRESERVE, CREATE
// and DESTROY, from a framework's ACCEPT or from the operator API. They
// are speculative, as in Mesos: the master applies the conversion to the
// agent's total at once, records the agent's new dynamic reservations and
// volumes in the registry, and tells the agent, which checkpoints them and
// creates or deletes volume directories. An operation with an id reports
// OPERATION_FINISHED once the agent has checkpointed, or OPERATION_ERROR
// with the reason it was refused.

// isConversion reports whether an offer operation converts resources.
func isConversion(t mesos.Offer_Operation_Type) bool {
	switch t {
	case mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE,
		mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY,
		mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME:
		return true
	}
	return false
}

// operationResources returns the resources an operation names, upgraded
// to the reservations format and, for a framework's operation, allocated
// to role when the framework left allocation info out.
func operationResources(op *mesos.Offer_Operation, role string) *mesos.Offer_Operation {
	op = proto.Clone(op).(*mesos.Offer_Operation)
	fix := func(rs []*mesos.Resource) []*mesos.Resource {
		out := make([]*mesos.Resource, len(rs))
		for i, r := range rs {
			r = resources.Upgrade(r)
			if role != "" && r.AllocationInfo == nil {
				r = proto.Clone(r).(*mesos.Resource)
				r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
			}
			out[i] = r
		}
		return out
	}
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		op.Reserve.Resources = fix(op.Reserve.Resources)
		op.Reserve.Source = fix(op.Reserve.Source)
	case mesos.Offer_Operation_UNRESERVE:
		op.Unreserve.Resources = fix(op.Unreserve.Resources)
	case mesos.Offer_Operation_CREATE:
		op.Create.Volumes = fix(op.Create.Volumes)
	case mesos.Offer_Operation_DESTROY:
		op.Destroy.Volumes = fix(op.Destroy.Volumes)
	case mesos.Offer_Operation_GROW_VOLUME:
		both := fix([]*mesos.Resource{op.GrowVolume.GetVolume(), op.GrowVolume.GetAddition()})
		op.GrowVolume.Volume, op.GrowVolume.Addition = both[0], both[1]
	case mesos.Offer_Operation_SHRINK_VOLUME:
		op.ShrinkVolume.Volume = fix([]*mesos.Resource{op.ShrinkVolume.GetVolume()})[0]
	}
	return op
}

// conversionsFor validates an operation against the agent and returns
// its conversions. fw is nil for the operator API.
func (m *Master) conversionsFor(fw *framework, a *agent, op *mesos.Offer_Operation) ([]resources.Conversion, error) {
	var principal string
	var fwInfo *mesos.FrameworkInfo
	if fw != nil {
		principal, fwInfo = fw.info.GetPrincipal(), fw.info
	}
	var err error
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		if fw != nil && len(op.GetReserve().GetSource()) > 0 {
			return nil, errors.New("Reservation updates are not yet implemented for the scheduler API")
		}
		err = validateReserve(op.GetReserve().GetResources(), principal, fwInfo)
	case mesos.Offer_Operation_UNRESERVE:
		err = validateUnreserve(op.GetUnreserve().GetResources())
	case mesos.Offer_Operation_CREATE:
		err = validateCreate(op.GetCreate().GetVolumes(), a.total, principal)
	case mesos.Offer_Operation_DESTROY:
		err = validateDestroy(op.GetDestroy().GetVolumes(), a.total, a.usedResources())
	case mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME:
		v, extra := op.GetGrowVolume().GetVolume(), op.GetGrowVolume().GetAddition()
		if op.GetType() == mesos.Offer_Operation_SHRINK_VOLUME {
			v, extra = op.GetShrinkVolume().GetVolume(), nil
		}
		err = validateResize(v, extra, a.total, a.usedResources())
	}
	if err != nil {
		return nil, fmt.Errorf("Invalid %s operation: %w; on agent %s", op.GetType(), err, a.id)
	}
	if op.GetType() == mesos.Offer_Operation_RESERVE && len(op.GetReserve().GetSource()) > 0 {
		// A reservation update (operator API): source becomes resources.
		src, dst := resources.Resources(op.GetReserve().GetSource()), resources.Resources(op.GetReserve().GetResources())
		if !src.ScalarQuantities().Contains(dst.ScalarQuantities()) || !dst.ScalarQuantities().Contains(src.ScalarQuantities()) {
			return nil, errors.New("Invalid RESERVE operation: source and resources must hold the same amounts")
		}
		return []resources.Conversion{{Consumed: resources.Resources{}.Add(src), Converted: resources.Resources{}.Add(dst)}}, nil
	}
	return resources.OperationConversions(op)
}

// applyOperation makes an already validated conversion durable and tells
// the allocator and the agent. fw is nil for the operator API; the
// converted resources then stay unallocated.
func (m *Master) applyOperation(fw *framework, a *agent, op *mesos.Offer_Operation, convs []resources.Conversion) error {
	unallocated := make([]resources.Conversion, len(convs))
	for i, c := range convs {
		unallocated[i] = resources.Conversion{Consumed: c.Consumed.Unallocate(), Converted: c.Converted.Unallocate()}
	}
	total, err := a.total.Apply(unallocated)
	if err != nil {
		return err
	}
	checkpointed := total.Checkpointed()
	if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateAgentResources{
		UpdateAgentResources: &plateaupb.AgentResources{AgentId: a.info.GetId(), Resources: checkpointed}}}); err != nil {
		return err
	}
	a.total = total
	m.agentResources[a.id] = checkpointed
	m.alloc.UpdateAgentTotal(a.id, total)
	if fw != nil {
		for _, c := range convs {
			m.alloc.Recover(fw.id, a.id, c.Consumed, time.Now(), 0)
			m.alloc.Allocated(fw.id, a.id, c.Converted)
		}
	}
	msg := &plateaupb.CheckpointResources{Resources: checkpointed}
	if fw != nil && op.Id != nil {
		o := m.trackOperation(fw, a, op)
		msg.Operations = []*plateaupb.OperationRef{{FrameworkId: fw.info.GetId(), OperationId: op.GetId(), Uuid: o.GetUuid().GetValue()}}
	}
	a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_CheckpointResources{CheckpointResources: msg}})
	m.counts.operations++
	m.log.Info("applied operation", "type", op.GetType().String(), "agent", a.id, "framework", frameworkIDOf(fw), "checkpointed", checkpointed.String())
	return nil
}

func frameworkIDOf(fw *framework) string {
	if fw == nil {
		return ""
	}
	return fw.id
}

// trackOperation remembers an operation whose framework asked for
// feedback, until its terminal status is acknowledged.
func (m *Master) trackOperation(fw *framework, a *agent, op *mesos.Offer_Operation) *mesos.Operation {
	id := uuid.New()
	o := &mesos.Operation{
		FrameworkId: fw.info.GetId(), AgentId: a.info.GetId(), Info: op,
		LatestStatus: &mesos.OperationStatus{OperationId: op.GetId(), State: mesos.OperationState_OPERATION_PENDING.Enum(), AgentId: a.info.GetId()},
		Uuid:         &mesos.UUID{Value: id[:]},
	}
	fw.operations[op.GetId().GetValue()] = o
	return o
}

// resourcesCheckpointed is the agent's confirmation: the operations it
// names are finished (or failed, when it could not checkpoint).
func (m *Master) resourcesCheckpointed(a *agent, rc *plateaupb.ResourcesCheckpointed) {
	for _, ref := range rc.GetOperations() {
		fw := m.frameworks[ref.GetFrameworkId().GetValue()]
		if fw == nil {
			continue
		}
		o := fw.operations[ref.GetOperationId().GetValue()]
		if o == nil || string(o.GetUuid().GetValue()) != string(ref.GetUuid()) {
			continue
		}
		state, msg := mesos.OperationState_OPERATION_FINISHED, ""
		if rc.GetError() != "" {
			state, msg = mesos.OperationState_OPERATION_FAILED, rc.GetError()
		}
		statusUUID := uuid.New()
		status := &mesos.OperationStatus{
			OperationId: o.GetInfo().GetId(), State: state.Enum(), AgentId: a.info.GetId(),
			Uuid: &mesos.UUID{Value: statusUUID[:]}, ConvertedResources: convertedResources(o.GetInfo()),
		}
		if msg != "" {
			status.Message = proto.String(msg)
		}
		o.LatestStatus = status
		o.Statuses = append(o.Statuses, status)
		fw.send(operationEvent(status))
	}
}

// convertedResources is what an operation produced.
func convertedResources(op *mesos.Offer_Operation) []*mesos.Resource {
	convs, err := resources.OperationConversions(op)
	if err != nil {
		return nil
	}
	var out resources.Resources
	for _, c := range convs {
		out = out.Add(c.Converted)
	}
	return out
}

func operationEvent(s *mesos.OperationStatus) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{Status: s}}
}

// acknowledgeOperation is ACKNOWLEDGE_OPERATION_STATUS: a terminal status
// acknowledged ends the master's record of the operation.
func (m *Master) acknowledgeOperation(fw *framework, ack *scheduler.Call_AcknowledgeOperationStatus) error {
	o := fw.operations[ack.GetOperationId().GetValue()]
	if o == nil {
		return nil // already acknowledged; Mesos ignores it too
	}
	if string(o.GetLatestStatus().GetUuid().GetValue()) != string(ack.GetUuid()) {
		return badRequest("Unknown status UUID for operation %s", ack.GetOperationId().GetValue())
	}
	switch o.GetLatestStatus().GetState() {
	case mesos.OperationState_OPERATION_FINISHED, mesos.OperationState_OPERATION_FAILED, mesos.OperationState_OPERATION_ERROR,
		mesos.OperationState_OPERATION_DROPPED, mesos.OperationState_OPERATION_GONE_BY_OPERATOR:
		delete(fw.operations, ack.GetOperationId().GetValue())
	}
	return nil
}

// resendOperationStatuses repeats the unacknowledged terminal statuses to
// a scheduler that subscribed again.
func (m *Master) resendOperationStatuses(fw *framework) {
	for _, o := range fw.operations {
		if o.GetLatestStatus().Uuid != nil {
			fw.send(operationEvent(o.GetLatestStatus()))
		}
	}
}

// dropOperation refuses an offer operation, telling the framework why
// when it asked for feedback (OPERATION_ERROR, as Mesos's drop does).
func (m *Master) dropOperation(fw *framework, a *agent, op *mesos.Offer_Operation, reason string) {
	m.log.Warn("dropping offer operation", "framework", fw.id, "type", op.GetType().String(), "reason", reason)
	m.counts.operationErrors++
	if op.Id == nil {
		return
	}
	fw.send(operationEvent(&mesos.OperationStatus{
		OperationId: op.GetId(), State: mesos.OperationState_OPERATION_ERROR.Enum(),
		Message: proto.String(reason), AgentId: a.info.GetId(),
	}))
}

// operatorOperation runs a RESERVE_RESOURCES, UNRESERVE_RESOURCES,
// CREATE_VOLUMES or DESTROY_VOLUMES call. As in Mesos, outstanding offers
// on the agent are rescinded, one at a time, until the resources are
// free; what cannot be found is a conflict (409).
func (m *Master) operatorOperation(agentID string, op *mesos.Offer_Operation) error {
	a := m.agents[agentID]
	if a == nil {
		return badRequest("No agent found with specified ID")
	}
	op = operationResources(op, "")
	convs, err := m.conversionsFor(nil, a, op)
	if err != nil {
		return badRequest("%v", err)
	}
	var required resources.Resources
	for _, c := range convs {
		required = required.Add(c.Consumed)
	}
	for _, o := range offersOf(a) {
		if m.freeOf(a).Contains(required) {
			break
		}
		if offered := o.resources.Unallocate(); !required.Subtract(offered).Equal(required) {
			m.removeOffer(o, true)
		}
	}
	if !m.freeOf(a).Contains(required) {
		return conflict("Insufficient resources on agent %s for %s: %s is not free", a.id, op.GetType(), required)
	}
	if err := m.applyOperation(nil, a, op, convs); err != nil {
		return conflict("%v", err)
	}
	m.dirtyAgents[a.id] = struct{}{}
	return nil
}

// offersOf lists an agent's outstanding offers in a stable order.
func offersOf(a *agent) []*offer {
	out := make([]*offer, 0, len(a.offers))
	for _, o := range a.offers {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].offer.GetId().GetValue() < out[j].offer.GetId().GetValue() })
	return out
}

// freeOf is what of an agent's total is neither used by tasks and
// executors nor offered.
func (m *Master) freeOf(a *agent) resources.Resources {
	free := a.total
	for _, used := range a.usedResources() {
		free = free.SubtractAllocated(used)
	}
	for _, o := range a.offers {
		free = free.SubtractAllocated(o.resources)
	}
	return free
}
