package master

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/files"
	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/loglevel"
	"github.com/plateau/plateau/internal/queue"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/version"
)

// serveOperator is POST /api/v1, the v1 operator API. Read-only calls are
// answered from a snapshot, built outside the master's loop.
func (m *Master) serveOperator(w http.ResponseWriter, r *http.Request) {
	call := &masterpb.Call{}
	enc, ok := httpapi.DecodeCall(w, r, call)
	if !ok {
		return
	}
	start := time.Now()
	defer func() {
		m.prom.calls.WithLabelValues("operator", call.GetType().String()).Observe(time.Since(start).Seconds())
	}()
	if call.GetType() == masterpb.Call_SUBSCRIBE {
		m.serveOperatorSubscribe(w, r, enc)
		return
	}
	resp, err := m.operatorCall(r, call)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	switch resp {
	case nil:
		w.WriteHeader(http.StatusAccepted)
		return
	case okNoBody:
		w.WriteHeader(http.StatusOK)
		return
	}
	httpapi.WriteMessage(w, enc, resp)
}

// okNoBody is the answer of calls Mesos answers 200 OK with no body.
var okNoBody = &masterpb.Response{}

// operatorCall answers one call; a nil response means 202 Accepted.
func (m *Master) operatorCall(r *http.Request, call *masterpb.Call) (*masterpb.Response, error) {
	if err := httpapi.RequireCallBody(call.ProtoReflect(), call.GetType().String()); err != nil {
		return nil, err
	}
	// A response's type has the name of the call it answers.
	resp := &masterpb.Response{Type: masterpb.Response_Type(masterpb.Response_Type_value[call.GetType().String()]).Enum()}
	switch call.GetType() {
	case masterpb.Call_GET_HEALTH:
		resp.GetHealth = &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}
	case masterpb.Call_GET_FLAGS:
		resp.GetFlags = &masterpb.Response_GetFlags{Flags: flagList(m.flagMap())}
	case masterpb.Call_GET_VERSION:
		resp.GetVersion = &masterpb.Response_GetVersion{VersionInfo: versionInfo()}
	case masterpb.Call_GET_METRICS:
		snap, err := m.metrics(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetMetrics = &masterpb.Response_GetMetrics{Metrics: metricList(snap)}
	case masterpb.Call_GET_LOGGING_LEVEL:
		resp.GetLoggingLevel = &masterpb.Response_GetLoggingLevel{Level: proto.Uint32(loglevel.Glog(m.level.Level()))}
	case masterpb.Call_SET_LOGGING_LEVEL:
		set := call.GetSetLoggingLevel()
		loglevel.Set(m.level, set.GetLevel(), time.Duration(set.GetDuration().GetNanoseconds()))
		return nil, nil
	case masterpb.Call_GET_STATE:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetState = s.getState()
	case masterpb.Call_GET_AGENTS:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetAgents = s.getAgents()
	case masterpb.Call_GET_FRAMEWORKS:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetFrameworks = s.getFrameworks()
	case masterpb.Call_GET_EXECUTORS:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetExecutors = s.getExecutors()
	case masterpb.Call_GET_TASKS:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetTasks = s.getTasks()
	case masterpb.Call_GET_ROLES:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetRoles = s.getRoles()
	case masterpb.Call_GET_WEIGHTS:
		s, err := m.takeSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		resp.GetWeights = &masterpb.Response_GetWeights{}
		for _, role := range slices.Sorted(maps.Keys(s.weights)) {
			resp.GetWeights.WeightInfos = append(resp.GetWeights.WeightInfos, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(s.weights[role])})
		}
	case masterpb.Call_UPDATE_WEIGHTS:
		infos := call.GetUpdateWeights().GetWeightInfos()
		update := map[string]float64{}
		for _, w := range infos {
			if err := validateRole(w.GetRole()); err != nil {
				return nil, badRequest("Invalid role: %v", err)
			}
			if w.GetWeight() <= 0 {
				return nil, badRequest("Weight of role '%s' must be positive", w.GetRole())
			}
			update[w.GetRole()] = w.GetWeight()
		}
		var recordErr error
		if err := m.do(r.Context(), func() {
			// Durable first: an acknowledged change survives a crash.
			if recordErr = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateWeights{
				UpdateWeights: &plateaupb.WeightsUpdate{Weights: infos}}}); recordErr != nil {
				return
			}
			maps.Copy(m.weights, update)
			m.alloc.SetWeights(update)
		}); err != nil {
			return nil, err
		}
		if recordErr != nil {
			return nil, httpapi.Errorf(http.StatusServiceUnavailable, "%v", recordErr)
		}
		return nil, nil
	case masterpb.Call_GET_QUOTA:
		if err := m.do(r.Context(), func() { resp.GetQuota = &masterpb.Response_GetQuota{Status: m.quotaStatus()} }); err != nil {
			return nil, err
		}
	case masterpb.Call_UPDATE_QUOTA:
		var err error
		if doErr := m.do(r.Context(), func() { err = m.updateQuota(call.GetUpdateQuota().GetQuotaConfigs()) }); doErr != nil {
			return nil, doErr
		}
		if err != nil {
			return nil, err
		}
		return nil, nil
	case masterpb.Call_GET_MASTER:
		resp.GetMaster = &masterpb.Response_GetMaster{MasterInfo: m.info, StartTime: proto.Float64(seconds(m.start)), ElectedTime: proto.Float64(seconds(m.start))}
	case masterpb.Call_TEARDOWN:
		id := call.GetTeardown().GetFrameworkId().GetValue()
		var found bool
		if err := m.do(r.Context(), func() {
			if fw := m.frameworks[id]; fw != nil {
				found = true
				m.removeFramework(fw)
			}
		}); err != nil {
			return nil, err
		}
		if !found {
			return nil, badRequest("No framework found with specified ID")
		}
		return nil, nil
	case masterpb.Call_DEACTIVATE_AGENT, masterpb.Call_REACTIVATE_AGENT, masterpb.Call_DRAIN_AGENT:
		var id string
		switch call.GetType() {
		case masterpb.Call_DEACTIVATE_AGENT:
			id = call.GetDeactivateAgent().GetAgentId().GetValue()
		case masterpb.Call_REACTIVATE_AGENT:
			id = call.GetReactivateAgent().GetAgentId().GetValue()
		default:
			id = call.GetDrainAgent().GetAgentId().GetValue()
		}
		if id == "" {
			return nil, badRequest("Expecting 'agent_id' to be present")
		}
		var found bool
		if err := m.do(r.Context(), func() {
			a := m.agents[id]
			if found = a != nil; !found {
				return
			}
			switch call.GetType() {
			case masterpb.Call_DEACTIVATE_AGENT:
				m.deactivateAgent(a)
			case masterpb.Call_REACTIVATE_AGENT:
				m.reactivateAgent(a)
			default:
				d := call.GetDrainAgent()
				cfg := &mesos.DrainConfig{MarkGone: proto.Bool(d.GetMarkGone())}
				if g := d.GetMaxGracePeriod(); g != nil {
					cfg.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: proto.Int64(g.AsDuration().Nanoseconds())}
				}
				m.drainAgent(a, cfg)
			}
		}); err != nil {
			return nil, err
		}
		if !found {
			return nil, httpapi.Errorf(http.StatusNotFound, "Agent %s not found", id)
		}
		return nil, nil
	case masterpb.Call_MARK_AGENT_GONE:
		id := call.GetMarkAgentGone().GetAgentId().GetValue()
		if id == "" {
			return nil, badRequest("Expecting 'mark_agent_gone.agent_id' to be present")
		}
		var found bool
		if err := m.do(r.Context(), func() {
			if a := m.agents[id]; a != nil {
				found = true
				a.send(&plateaupb.MasterMessage{Message: &plateaupb.MasterMessage_ShutdownAgent{ShutdownAgent: &plateaupb.ShutdownAgent{
					Message: proto.String("marked gone by the operator")}}})
				m.removeAgent(a, true)
			} else if _, unreachable := m.unreachable[id]; unreachable {
				found = true
				m.markGone(id, time.Now())
			}
		}); err != nil {
			return nil, err
		}
		if !found {
			return nil, httpapi.Errorf(http.StatusNotFound, "Agent %s not found", id)
		}
		return nil, nil
	case masterpb.Call_SET_QUOTA, masterpb.Call_REMOVE_QUOTA:
		// The calls before Mesos 1.9: SET_QUOTA's guarantee is now both
		// the role's guarantee and its limit.
		cfg := &quota.QuotaConfig{Role: proto.String(call.GetRemoveQuota().GetRole())}
		if call.GetType() == masterpb.Call_SET_QUOTA {
			req := call.GetSetQuota().GetQuotaRequest()
			cfg.Role = req.Role
			cfg.Guarantees, cfg.Limits = map[string]*mesos.Value_Scalar{}, map[string]*mesos.Value_Scalar{}
			for _, q := range resources.Resources(req.GetGuarantee()).ScalarQuantities() {
				v := &mesos.Value_Scalar{Value: proto.Float64(float64(q.Value) / 1000)}
				cfg.Guarantees[q.Name], cfg.Limits[q.Name] = v, v
			}
		}
		if cfg.GetRole() == "" {
			return nil, badRequest("Expecting a 'role'")
		}
		var err error
		if doErr := m.do(r.Context(), func() { err = m.updateQuota([]*quota.QuotaConfig{cfg}) }); doErr != nil {
			return nil, doErr
		}
		if err != nil {
			return nil, err
		}
		return okNoBody, nil
	case masterpb.Call_RESERVE_RESOURCES, masterpb.Call_UNRESERVE_RESOURCES, masterpb.Call_CREATE_VOLUMES, masterpb.Call_DESTROY_VOLUMES,
		masterpb.Call_GROW_VOLUME, masterpb.Call_SHRINK_VOLUME:
		agentID, op, err := operatorConversion(call)
		if err != nil {
			return nil, err
		}
		if doErr := m.do(r.Context(), func() { err = m.operatorOperation(agentID, op) }); doErr != nil {
			return nil, doErr
		}
		return nil, err
	case masterpb.Call_LIST_FILES:
		list, err := m.files.List(call.GetListFiles().GetPath())
		if err != nil {
			return nil, files.StatusError(err)
		}
		resp.ListFiles = &masterpb.Response_ListFiles{}
		for _, fi := range list {
			resp.ListFiles.FileInfos = append(resp.ListFiles.FileInfos, fi.Proto())
		}
	case masterpb.Call_READ_FILE:
		rf := call.GetReadFile()
		data, size, err := m.files.ReadAt(rf.GetPath(), int64(rf.GetOffset()), int64(rf.GetLength()))
		if err != nil {
			return nil, files.StatusError(err)
		}
		resp.ReadFile = &masterpb.Response_ReadFile{Size: proto.Uint64(uint64(size)), Data: data}
	case masterpb.Call_GET_MAINTENANCE_STATUS:
		if err := m.do(r.Context(), func() {
			resp.GetMaintenanceStatus = &masterpb.Response_GetMaintenanceStatus{Status: m.maintenanceStatus()}
		}); err != nil {
			return nil, err
		}
	case masterpb.Call_GET_MAINTENANCE_SCHEDULE:
		if err := m.do(r.Context(), func() {
			resp.GetMaintenanceSchedule = &masterpb.Response_GetMaintenanceSchedule{Schedule: m.currentSchedule()}
		}); err != nil {
			return nil, err
		}
	case masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE, masterpb.Call_START_MAINTENANCE, masterpb.Call_STOP_MAINTENANCE:
		var err error
		if doErr := m.do(r.Context(), func() {
			switch call.GetType() {
			case masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE:
				err = m.updateSchedule(call.GetUpdateMaintenanceSchedule().GetSchedule())
			case masterpb.Call_START_MAINTENANCE:
				err = m.startMaintenance(call.GetStartMaintenance().GetMachines())
			default:
				err = m.stopMaintenance(call.GetStopMaintenance().GetMachines())
			}
		}); doErr != nil {
			return nil, doErr
		}
		if err != nil {
			return nil, err
		}
		return okNoBody, nil
	case masterpb.Call_GET_OPERATIONS:
		if err := m.do(r.Context(), func() { resp.GetOperations = &masterpb.Response_GetOperations{Operations: m.operations()} }); err != nil {
			return nil, err
		}
	case masterpb.Call_UNKNOWN:
		return nil, badRequest("Expecting 'type' to be present")
	default:
		return nil, httpapi.Errorf(http.StatusNotImplemented, "Operator call %s is not supported by Plateau yet", call.GetType())
	}
	return resp, nil
}

func flagList(flags map[string]string) []*mesos.Flag {
	out := make([]*mesos.Flag, 0, len(flags))
	for k, v := range flags {
		out = append(out, &mesos.Flag{Name: proto.String(k), Value: proto.String(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func metricList(snap map[string]float64) []*mesos.Metric {
	out := make([]*mesos.Metric, 0, len(snap))
	for k, v := range snap {
		out = append(out, &mesos.Metric{Name: proto.String(k), Value: proto.Float64(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func versionInfo() *mesos.VersionInfo {
	return &mesos.VersionInfo{Version: proto.String(version.MesosVersion), GitTag: proto.String("plateau-" + version.Version)}
}

func timeInfo(t time.Time) *mesos.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (s *stateSnapshot) getState() *masterpb.Response_GetState {
	return &masterpb.Response_GetState{GetTasks: s.getTasks(), GetExecutors: s.getExecutors(),
		GetFrameworks: s.getFrameworks(), GetAgents: s.getAgents()}
}

func (s *stateSnapshot) getAgents() *masterpb.Response_GetAgents {
	out := &masterpb.Response_GetAgents{}
	for _, a := range s.agents {
		out.Agents = append(out.Agents, a.proto())
	}
	return out
}

func (a agentSnapshot) proto() *masterpb.Response_GetAgents_Agent {
	return &masterpb.Response_GetAgents_Agent{
		AgentInfo: a.info, Active: proto.Bool(a.active), Deactivated: proto.Bool(a.deactivated), DrainInfo: a.drain, Version: proto.String(a.version),
		Pid: proto.String("slave(1)@" + a.endpoint), RegisteredTime: timeInfo(a.registered), ReregisteredTime: timeInfo(a.reregistered),
		// Summed, as Mesos's are.
		TotalResources: a.total, AllocatedResources: resources.Sum(a.used), OfferedResources: resources.Sum(a.offered),
	}
}

func (s *stateSnapshot) getFrameworks() *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	for _, f := range s.frameworks {
		out.Frameworks = append(out.Frameworks, f.proto())
	}
	for _, f := range s.completedFrameworks {
		out.CompletedFrameworks = append(out.CompletedFrameworks, f.proto())
	}
	return out
}

func (f frameworkSnapshot) proto() *masterpb.Response_GetFrameworks_Framework {
	p := &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo: f.info, Active: proto.Bool(f.active), Connected: proto.Bool(f.connected), Recovered: proto.Bool(false),
		RegisteredTime: timeInfo(f.registered), ReregisteredTime: timeInfo(f.reregistered), UnregisteredTime: timeInfo(f.unregistered),
		Offers: f.offers,
	}
	allocated, offered := f.usedAndOffered() // summed, as Mesos's are
	p.AllocatedResources, p.OfferedResources = resources.Sum(allocated), resources.Sum(offered)
	return p
}

func (s *stateSnapshot) getExecutors() *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	for _, f := range s.frameworks {
		for _, e := range f.executors {
			out.Executors = append(out.Executors, &masterpb.Response_GetExecutors_Executor{ExecutorInfo: e.info, AgentId: &mesos.AgentID{Value: proto.String(e.agentID)}})
		}
	}
	return out
}

func (s *stateSnapshot) getTasks() *masterpb.Response_GetTasks {
	out := &masterpb.Response_GetTasks{}
	for _, f := range s.frameworks {
		out.Tasks = append(out.Tasks, f.tasks...)
		out.UnreachableTasks = append(out.UnreachableTasks, f.unreachableTasks...)
		out.CompletedTasks = append(out.CompletedTasks, f.completedTasks...)
	}
	for _, f := range s.completedFrameworks {
		out.CompletedTasks = append(out.CompletedTasks, f.completedTasks...)
	}
	return out
}

func (s *stateSnapshot) getRoles() *masterpb.Response_GetRoles {
	roles := map[string]*mesos.Role{}
	for _, f := range s.frameworks {
		for _, name := range frameworkRoles(f.info) {
			r := roles[name]
			if r == nil {
				r = &mesos.Role{Name: proto.String(name), Weight: proto.Float64(weightOf(s.weights, name))}
				roles[name] = r
			}
			r.Frameworks = append(r.Frameworks, f.info.GetId())
			for _, t := range f.tasks {
				r.Resources = append(r.Resources, t.GetResources()...)
			}
		}
	}
	out := &masterpb.Response_GetRoles{}
	for _, r := range roles {
		out.Roles = append(out.Roles, r)
	}
	sort.Slice(out.Roles, func(i, j int) bool { return out.Roles[i].GetName() < out.Roles[j].GetName() })
	return out
}

// serveOperatorSubscribe streams the master's events: SUBSCRIBED with the
// whole state, then changes as they happen, and HEARTBEATs.
func (m *Master) serveOperatorSubscribe(w http.ResponseWriter, r *http.Request, enc codec.Codec) {
	// The subscriber is registered and the state snapshotted in one turn
	// of the loop, so the events queued after it follow the state exactly;
	// the state's message is built off the loop (at 100,000 tasks that
	// takes a while).
	var events *queue.Queue[*masterpb.Event]
	var snap *stateSnapshot
	var id int
	if err := m.do(r.Context(), func() {
		events = queue.New[*masterpb.Event]()
		m.nextSubscriber++
		id = m.nextSubscriber
		m.subscribers[id] = events
		snap = m.snapshot()
	}); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	defer m.post(func() { delete(m.subscribers, id) })
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordIOWriter(w, enc)
	if err := rw.Write(&masterpb.Event{Type: masterpb.Event_SUBSCRIBED.Enum(), Subscribed: &masterpb.Event_Subscribed{
		GetState: snap.getState(), HeartbeatIntervalSeconds: proto.Float64(m.cfg.HeartbeatInterval.Seconds())}}); err != nil {
		return
	}
	go heartbeats(events, &masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()}, m.cfg.HeartbeatInterval, r.Context().Done())
	_ = events.Drain(r.Context().Done(), func(ev *masterpb.Event) error { return rw.Write(ev) }, nil)
}

// publish sends an event to every operator subscriber. Runs on the loop.
func (m *Master) publish(ev *masterpb.Event) {
	for _, q := range m.subscribers {
		q.Push(ev)
	}
}

func weightOf(weights map[string]float64, role string) float64 {
	if w, ok := weights[role]; ok {
		return w
	}
	return 1
}

// operatorConversion turns a RESERVE_RESOURCES, UNRESERVE_RESOURCES,
// CREATE_VOLUMES or DESTROY_VOLUMES call into the offer operation it asks
// for.
func operatorConversion(call *masterpb.Call) (string, *mesos.Offer_Operation, error) {
	op := &mesos.Offer_Operation{}
	var agentID *mesos.AgentID
	switch call.GetType() {
	case masterpb.Call_RESERVE_RESOURCES:
		c := call.GetReserveResources()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_RESERVE.Enum()
		op.Reserve = &mesos.Offer_Operation_Reserve{Source: c.GetSource(), Resources: c.GetResources()}
	case masterpb.Call_UNRESERVE_RESOURCES:
		c := call.GetUnreserveResources()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_UNRESERVE.Enum()
		op.Unreserve = &mesos.Offer_Operation_Unreserve{Resources: c.GetResources()}
	case masterpb.Call_CREATE_VOLUMES:
		c := call.GetCreateVolumes()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_CREATE.Enum()
		op.Create = &mesos.Offer_Operation_Create{Volumes: c.GetVolumes()}
	case masterpb.Call_GROW_VOLUME:
		c := call.GetGrowVolume()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_GROW_VOLUME.Enum()
		op.GrowVolume = &mesos.Offer_Operation_GrowVolume{Volume: c.GetVolume(), Addition: c.GetAddition()}
	case masterpb.Call_SHRINK_VOLUME:
		c := call.GetShrinkVolume()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_SHRINK_VOLUME.Enum()
		op.ShrinkVolume = &mesos.Offer_Operation_ShrinkVolume{Volume: c.GetVolume(), Subtract: c.GetSubtract()}
	default:
		c := call.GetDestroyVolumes()
		agentID = c.GetAgentId()
		op.Type = mesos.Offer_Operation_DESTROY.Enum()
		op.Destroy = &mesos.Offer_Operation_Destroy{Volumes: c.GetVolumes()}
	}
	if agentID.GetValue() == "" {
		return "", nil, badRequest("Expecting 'agent_id' to be present")
	}
	return agentID.GetValue(), op, nil
}

// operations lists the operations with feedback the master tracks.
func (m *Master) operations() []*mesos.Operation {
	var out []*mesos.Operation
	for _, fw := range m.frameworks {
		for _, o := range fw.operations {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return string(out[i].GetUuid().GetValue()) < string(out[j].GetUuid().GetValue())
	})
	return out
}
