package master

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	allocatorpb "github.com/plateau/plateau/internal/api/mesos/v1/allocator"
	"github.com/plateau/plateau/internal/api/mesos/v1/maintenance"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/httpapi"
)

// Maintenance, as in Mesos (docs/maintenance.md): the operator posts a
// schedule of windows in which machines will be unavailable. A scheduled
// machine is DRAINING: frameworks running on its agents get inverse offers
// saying when it goes away, which they accept or decline, and its agents'
// offers carry the unavailability. START_MAINTENANCE takes machines DOWN:
// their agents' tasks are killed (TASK_LOST, or TASK_GONE_BY_OPERATOR for
// PARTITION_AWARE frameworks) and the agents are removed and refused until
// STOP_MAINTENANCE brings the machines UP again and out of the schedule.
// The schedule and the down machines are kept in the registry.

// machine is a machine named by the schedule.
type machine struct {
	id             *mesos.MachineID
	down           bool
	unavailability *mesos.Unavailability
	// responses are the frameworks' answers to inverse offers, by
	// framework ID.
	responses map[string]*allocatorpb.InverseOfferStatus
}

// inverseOffer is an outstanding inverse offer.
type inverseOffer struct {
	offer       *mesos.InverseOffer
	frameworkID string
	agentID     string
	machine     string // key
}

func machineKey(id *mesos.MachineID) string {
	return strings.ToLower(id.GetHostname()) + "/" + id.GetIp()
}

// matches reports whether an agent runs on the machine: the fields the
// machine's ID gives (hostname, IP) are the agent's.
func (mc *machine) matches(a *agent) bool {
	host, _ := splitHostPort(a.endpoint)
	if h := mc.id.GetHostname(); h != "" && !strings.EqualFold(h, a.info.GetHostname()) {
		return false
	}
	if ip := mc.id.GetIp(); ip != "" && ip != host {
		return false
	}
	return true
}

// machineOf finds the scheduled machine an agent runs on, if any.
func (m *Master) machineOf(a *agent) *machine {
	for _, mc := range m.machines {
		if mc.matches(a) {
			return mc
		}
	}
	return nil
}

// validateMachines checks machine IDs as Mesos does.
func validateMachines(ids []*mesos.MachineID) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if id.GetHostname() == "" && id.GetIp() == "" {
			return badRequest("A machine ID needs a hostname or an IP")
		}
		if ip := id.GetIp(); ip != "" && net.ParseIP(ip) == nil {
			return badRequest("Machine ID's IP %q is not an IP address", ip)
		}
		k := machineKey(id)
		if seen[k] {
			return badRequest("Machine %s appears more than once", describeMachine(id))
		}
		seen[k] = true
	}
	return nil
}

func describeMachine(id *mesos.MachineID) string {
	return fmt.Sprintf("{hostname: %q, ip: %q}", id.GetHostname(), id.GetIp())
}

// updateSchedule is UPDATE_MAINTENANCE_SCHEDULE. Runs on the loop.
func (m *Master) updateSchedule(s *maintenance.Schedule) error {
	if s == nil {
		return badRequest("Expecting 'schedule' to be present")
	}
	var all []*mesos.MachineID
	for _, w := range s.GetWindows() {
		if len(w.GetMachineIds()) == 0 {
			return badRequest("A maintenance window needs at least one machine")
		}
		if w.GetUnavailability().GetStart() == nil {
			return badRequest("A maintenance window needs an unavailability with a start")
		}
		all = append(all, w.GetMachineIds()...)
	}
	if err := validateMachines(all); err != nil {
		return err
	}
	scheduled := map[string]bool{}
	for _, id := range all {
		scheduled[machineKey(id)] = true
	}
	for k, mc := range m.machines {
		if mc.down && !scheduled[k] {
			return badRequest("Machine %s is DOWN and must stay in the schedule until STOP_MAINTENANCE", describeMachine(mc.id))
		}
	}
	if err := m.recordMaintenance(s, m.downMachines()); err != nil {
		return err
	}
	m.applySchedule(s)
	return nil
}

// applySchedule makes the machines of a schedule DRAINING (or keeps them
// DOWN) and forgets the others. Runs on the loop.
func (m *Master) applySchedule(s *maintenance.Schedule) {
	m.schedule = proto.Clone(s).(*maintenance.Schedule)
	next := map[string]*machine{}
	for _, w := range s.GetWindows() {
		for _, id := range w.GetMachineIds() {
			k := machineKey(id)
			mc := m.machines[k]
			if mc == nil {
				mc = &machine{id: id, responses: map[string]*allocatorpb.InverseOfferStatus{}}
			}
			mc.unavailability = w.GetUnavailability()
			next[k] = mc
		}
	}
	for k := range m.machines {
		if next[k] == nil {
			m.rescindInverseOffers(k)
		}
	}
	m.machines = next
	m.sendInverseOffers()
}

func (m *Master) downMachines() []*mesos.MachineID {
	var out []*mesos.MachineID
	for _, mc := range m.machines {
		if mc.down {
			out = append(out, mc.id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return machineKey(out[i]) < machineKey(out[j]) })
	return out
}

func (m *Master) recordMaintenance(s *maintenance.Schedule, down []*mesos.MachineID) error {
	return m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateMaintenance{
		UpdateMaintenance: &plateaupb.MaintenanceUpdate{Schedule: s, DownMachines: down}}})
}

// recoverMaintenance restores the registry's maintenance state. Runs
// before the loop starts.
func (m *Master) recoverMaintenance(u *plateaupb.MaintenanceUpdate) {
	m.machines = map[string]*machine{}
	m.inverseOffers = map[string]*inverseOffer{}
	if u == nil {
		return
	}
	m.applySchedule(u.GetSchedule())
	for _, id := range u.GetDownMachines() {
		if mc := m.machines[machineKey(id)]; mc != nil {
			mc.down = true
		}
	}
}

// startMaintenance is START_MAINTENANCE: the machines go DOWN. Runs on the
// loop.
func (m *Master) startMaintenance(ids []*mesos.MachineID) error {
	if err := validateMachines(ids); err != nil {
		return err
	}
	for _, id := range ids {
		mc := m.machines[machineKey(id)]
		switch {
		case mc == nil:
			return badRequest("Machine %s is not part of a maintenance schedule", describeMachine(id))
		case mc.down:
			return badRequest("Machine %s is not in DRAINING mode and cannot be brought down", describeMachine(id))
		}
	}
	down := m.downMachines()
	for _, id := range ids {
		down = append(down, m.machines[machineKey(id)].id)
	}
	if err := m.recordMaintenance(m.schedule, down); err != nil {
		return err
	}
	for _, id := range ids {
		k := machineKey(id)
		mc := m.machines[k]
		mc.down = true
		m.rescindInverseOffers(k)
		for _, a := range m.agentsList() {
			if !mc.matches(a) {
				continue
			}
			m.log.Info("machine down for maintenance: removing its agent", "agent", a.id, "machine", describeMachine(mc.id))
			for fwID := range a.tasks {
				a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_ShutdownFramework{ShutdownFramework: &plateaupb.ShutdownFramework{
					FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}}}})
			}
			m.removeAgent(a, true)
			// It may come back once the machine is up.
			delete(m.gone, a.id)
			_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_ForgetAgents{ForgetAgents: &plateaupb.ForgetAgents{
				AgentIds: []*mesos.AgentID{a.info.GetId()}}}})
		}
	}
	return nil
}

// stopMaintenance is STOP_MAINTENANCE: the machines are UP and leave the
// schedule. Runs on the loop.
func (m *Master) stopMaintenance(ids []*mesos.MachineID) error {
	if err := validateMachines(ids); err != nil {
		return err
	}
	stop := map[string]bool{}
	for _, id := range ids {
		mc := m.machines[machineKey(id)]
		if mc == nil || !mc.down {
			return badRequest("Machine %s is not in DOWN mode and cannot be brought up", describeMachine(id))
		}
		stop[machineKey(id)] = true
	}
	s := &maintenance.Schedule{}
	for _, w := range m.schedule.GetWindows() {
		kept := &maintenance.Window{Unavailability: w.GetUnavailability()}
		for _, id := range w.GetMachineIds() {
			if !stop[machineKey(id)] {
				kept.MachineIds = append(kept.MachineIds, id)
			}
		}
		if len(kept.MachineIds) > 0 {
			s.Windows = append(s.Windows, kept)
		}
	}
	var down []*mesos.MachineID
	for _, id := range m.downMachines() {
		if !stop[machineKey(id)] {
			down = append(down, id)
		}
	}
	if err := m.recordMaintenance(s, down); err != nil {
		return err
	}
	for k := range stop {
		delete(m.machines, k)
	}
	m.applySchedule(s)
	return nil
}

// machineDown refuses the registration of an agent on a DOWN machine.
func (m *Master) machineDown(info *mesos.AgentInfo, endpoint string) error {
	a := &agent{info: info, endpoint: endpoint}
	if mc := m.machineOf(a); mc != nil && mc.down {
		return fmt.Errorf("agent attempted to register on machine %s, which is DOWN for maintenance", describeMachine(mc.id))
	}
	return nil
}

// sendInverseOffers offers each framework running on a DRAINING machine's
// agents an inverse offer, once, until it answers. Runs on the loop.
func (m *Master) sendInverseOffers() {
	if len(m.machines) == 0 {
		return
	}
	pending := map[string]bool{}
	for _, io := range m.inverseOffers {
		pending[io.frameworkID+"/"+io.agentID] = true
	}
	batches := map[*framework][]*mesos.InverseOffer{}
	for _, a := range m.agentsList() {
		mc := m.machineOf(a)
		if mc == nil || mc.down {
			continue
		}
		for fwID := range a.tasks {
			fw := m.frameworks[fwID]
			if fw == nil || fw.stream == nil || pending[fwID+"/"+a.id] || mc.responses[fwID] != nil && mc.responses[fwID].GetStatus() != allocatorpb.InverseOfferStatus_UNKNOWN {
				continue
			}
			id := fmt.Sprintf("%s-IO%d", m.info.GetId(), m.nextOffer)
			m.nextOffer++
			io := &mesos.InverseOffer{Id: &mesos.OfferID{Value: proto.String(id)}, Url: agentURL(a),
				FrameworkId: fw.info.GetId(), AgentId: a.info.GetId(), Unavailability: mc.unavailability}
			m.inverseOffers[id] = &inverseOffer{offer: io, frameworkID: fwID, agentID: a.id, machine: machineKey(mc.id)}
			mc.responses[fwID] = &allocatorpb.InverseOfferStatus{Status: allocatorpb.InverseOfferStatus_UNKNOWN.Enum(),
				FrameworkId: fw.info.GetId(), Timestamp: timeInfo(time.Now())}
			batches[fw] = append(batches[fw], io)
		}
	}
	for fw, ios := range batches {
		fw.send(&scheduler.Event{Type: scheduler.Event_INVERSE_OFFERS.Enum(), InverseOffers: &scheduler.Event_InverseOffers{InverseOffers: ios}})
	}
}

// answerInverseOffers is ACCEPT_INVERSE_OFFERS and DECLINE_INVERSE_OFFERS;
// unknown inverse offers are ignored, as in Mesos. Runs on the loop.
func (m *Master) answerInverseOffers(fw *framework, ids []*mesos.OfferID, accept bool) {
	status := allocatorpb.InverseOfferStatus_DECLINE
	if accept {
		status = allocatorpb.InverseOfferStatus_ACCEPT
	}
	for _, id := range ids {
		io := m.inverseOffers[id.GetValue()]
		if io == nil || io.frameworkID != fw.id {
			continue
		}
		delete(m.inverseOffers, id.GetValue())
		if mc := m.machines[io.machine]; mc != nil {
			mc.responses[fw.id] = &allocatorpb.InverseOfferStatus{Status: status.Enum(), FrameworkId: fw.info.GetId(), Timestamp: timeInfo(time.Now())}
		}
	}
}

// rescindInverseOffers withdraws the inverse offers for a machine.
func (m *Master) rescindInverseOffers(key string) {
	for id, io := range m.inverseOffers {
		if io.machine != key {
			continue
		}
		delete(m.inverseOffers, id)
		if fw := m.frameworks[io.frameworkID]; fw != nil {
			fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &scheduler.Event_RescindInverseOffer{InverseOfferId: io.offer.GetId()}})
		}
	}
}

// unavailabilityOf is what an offer from the agent says of the agent's
// scheduled maintenance.
func (m *Master) unavailabilityOf(a *agent) *mesos.Unavailability {
	if len(m.machines) == 0 {
		return nil
	}
	if mc := m.machineOf(a); mc != nil {
		return mc.unavailability
	}
	return nil
}

// maintenanceStatus is GET_MAINTENANCE_STATUS. Runs on the loop.
func (m *Master) maintenanceStatus() *maintenance.ClusterStatus {
	st := &maintenance.ClusterStatus{}
	keys := make([]string, 0, len(m.machines))
	for k := range m.machines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mc := m.machines[k]
		if mc.down {
			st.DownMachines = append(st.DownMachines, mc.id)
			continue
		}
		dm := &maintenance.ClusterStatus_DrainingMachine{Id: mc.id}
		for _, r := range mc.responses {
			dm.Statuses = append(dm.Statuses, r)
		}
		sort.Slice(dm.Statuses, func(i, j int) bool {
			return dm.Statuses[i].GetFrameworkId().GetValue() < dm.Statuses[j].GetFrameworkId().GetValue()
		})
		st.DrainingMachines = append(st.DrainingMachines, dm)
	}
	return st
}

// agentsList lists the registered agents in ID order.
func (m *Master) agentsList() []*agent {
	out := make([]*agent, 0, len(m.agents))
	for _, a := range m.agents {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// currentSchedule is the schedule, never nil.
func (m *Master) currentSchedule() *maintenance.Schedule {
	if m.schedule == nil {
		return &maintenance.Schedule{}
	}
	return m.schedule
}

// serveSchedule is /master/maintenance/schedule: GET answers the schedule
// in Mesos's JSON; POST replaces it.
func (m *Master) serveSchedule(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		var s *maintenance.Schedule
		if err := m.do(r.Context(), func() { s = m.currentSchedule() }); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		httpapi.WriteMessage(w, codec.JSON, s)
	case http.MethodPost:
		s := &maintenance.Schedule{}
		if err := readJSONBody(r, s); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		m.doMaintenance(w, r, func() error { return m.updateSchedule(s) })
	default:
		http.Error(w, fmt.Sprintf("Expecting one of { 'GET', 'POST' }, but received '%s'", r.Method), http.StatusMethodNotAllowed)
	}
}

// serveMaintenanceStatus is GET /master/maintenance/status.
func (m *Master) serveMaintenanceStatus(w http.ResponseWriter, r *http.Request) {
	var st *maintenance.ClusterStatus
	if err := m.do(r.Context(), func() { st = m.maintenanceStatus() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteMessage(w, codec.JSON, st)
}

// serveMachines is POST /master/machine/down and /master/machine/up: the
// body is a JSON array of MachineIDs.
func (m *Master) serveMachines(down bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !httpapi.RequirePOST(w, r) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxBody))
		if err != nil {
			httpapi.WriteError(w, badRequest("Failed to read the request body: %v", err))
			return
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			httpapi.WriteError(w, badRequest("Expecting a JSON array of machine IDs: %v", err))
			return
		}
		ids := make([]*mesos.MachineID, len(raw))
		for i, item := range raw {
			ids[i] = &mesos.MachineID{}
			if err := codec.UnmarshalJSON(item, ids[i]); err != nil {
				httpapi.WriteError(w, badRequest("Machine ID %d: %v", i, err))
				return
			}
		}
		if down {
			m.doMaintenance(w, r, func() error { return m.startMaintenance(ids) })
		} else {
			m.doMaintenance(w, r, func() error { return m.stopMaintenance(ids) })
		}
	}
}

func (m *Master) doMaintenance(w http.ResponseWriter, r *http.Request, fn func() error) {
	var err error
	if doErr := m.do(r.Context(), func() { err = fn() }); doErr != nil {
		err = doErr
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func readJSONBody(r *http.Request, msg proto.Message) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxBody))
	if err != nil {
		return badRequest("Failed to read the request body: %v", err)
	}
	if err := codec.UnmarshalJSON(body, msg); err != nil {
		return badRequest("Failed to parse the body as JSON: %v", err)
	}
	return nil
}
