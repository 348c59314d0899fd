package master

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"time"

	"github.com/plateau/plateau/internal/httpapi"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/model"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/version"
)

// The master's state is served from a snapshot: the loop copies pointers to
// its (immutable) records, and the JSON is built on the HTTP goroutine, so
// a large /master/state never stalls scheduler calls.

type stateSnapshot struct {
	info                *mesos.MasterInfo
	start               time.Time
	flags               map[string]string
	weights             map[string]float64
	frameworks          []frameworkSnapshot
	completedFrameworks []frameworkSnapshot
	agents              []agentSnapshot
}

type frameworkSnapshot struct {
	info                                   *mesos.FrameworkInfo
	active, connected                      bool
	registered, reregistered, unregistered time.Time
	tasks, completedTasks                  []*mesos.Task
	offers                                 []*mesos.Offer
	executors                              []executorSnapshot
}

type executorSnapshot struct {
	info    *mesos.ExecutorInfo
	agentID string
}

type agentSnapshot struct {
	info                     *mesos.AgentInfo
	endpoint, version        string
	active                   bool
	registered, reregistered time.Time
	used, offered            []*mesos.Resource
}

// snapshot copies the state's records. Runs on the loop.
func (m *Master) snapshot() *stateSnapshot {
	s := &stateSnapshot{info: m.info, start: m.start, flags: m.flagMap(), weights: maps.Clone(m.weights)}
	for _, fw := range m.frameworks {
		s.frameworks = append(s.frameworks, fw.snapshot())
	}
	for _, fw := range m.completedFrameworks {
		s.completedFrameworks = append(s.completedFrameworks, fw.snapshot())
	}
	for _, a := range m.agents {
		s.agents = append(s.agents, a.snapshot())
	}
	return s
}

// snapshot copies a framework's record.
func (fw *framework) snapshot() frameworkSnapshot {
	f := frameworkSnapshot{info: fw.info, active: fw.active, connected: fw.stream != nil,
		registered: fw.registered, reregistered: fw.reregistered, unregistered: fw.unregistered}
	for _, t := range fw.tasks {
		f.tasks = append(f.tasks, t)
	}
	f.completedTasks = append(f.completedTasks, fw.completedTasks...)
	for _, o := range fw.offers {
		f.offers = append(f.offers, o.offer)
	}
	for agentID, execs := range fw.executors {
		for _, e := range execs {
			f.executors = append(f.executors, executorSnapshot{e, agentID})
		}
	}
	return f
}

// snapshot copies an agent's record.
func (a *agent) snapshot() agentSnapshot {
	as := agentSnapshot{info: a.info, endpoint: a.endpoint, version: a.version, active: a.active && a.link != nil,
		registered: a.registered, reregistered: a.reregistered}
	for _, used := range a.usedResources() {
		as.used = append(as.used, used...)
	}
	for _, o := range a.offers {
		as.offered = append(as.offered, o.resources...)
	}
	return as
}

func (m *Master) flagMap() map[string]string {
	c := m.cfg
	return map[string]string{
		"ip": c.IP, "port": fmt.Sprint(c.Port), "hostname": c.Hostname, "work_dir": c.WorkDir,
		"offer_timeout": c.OfferTimeout.String(), "allocation_interval": c.AllocationInterval.String(),
		"heartbeat_interval": c.HeartbeatInterval.String(), "roles": c.Roles, "weights": c.Weights,
	}
}

// serveState is /master/state (and /master/state.json, /state).
func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	var snap *stateSnapshot
	if err := m.do(r.Context(), func() { snap = m.snapshot() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	writeJSON(w, r, snap.model())
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if r.URL.Query().Has("jsonp") {
		// Mesos supports ?jsonp=callback for its web UI.
		fmt.Fprintf(w, "%s(", r.URL.Query().Get("jsonp"))
		defer fmt.Fprint(w, ");")
	}
	if err := enc.Encode(v); err != nil {
		// Too late for a status code; the client sees a truncated body.
		return
	}
}

// model builds Mesos's /master/state JSON layout.
func (s *stateSnapshot) model() map[string]any {
	leader := s.info.GetPid()
	var frameworks, completed, agents []any
	activated, deactivated := 0, 0
	for _, f := range s.frameworks {
		frameworks = append(frameworks, f.model())
	}
	for _, f := range s.completedFrameworks {
		completed = append(completed, f.model())
	}
	sort.Slice(s.agents, func(i, j int) bool { return s.agents[i].info.GetId().GetValue() < s.agents[j].info.GetId().GetValue() })
	for _, a := range s.agents {
		agents = append(agents, a.model())
		if a.active {
			activated++
		} else {
			deactivated++
		}
	}
	return map[string]any{
		"version":                 version.MesosVersion,
		"plateau_version":         version.Version,
		"build_date":              "",
		"build_time":              0,
		"build_user":              "",
		"start_time":              model.Seconds(s.start),
		"elected_time":            model.Seconds(s.start),
		"id":                      s.info.GetId(),
		"pid":                     s.info.GetPid(),
		"hostname":                s.info.GetHostname(),
		"leader":                  leader,
		"leader_info":             masterInfoModel(s.info),
		"activated_slaves":        activated,
		"deactivated_slaves":      deactivated,
		"unreachable_slaves":      0,
		"flags":                   s.flags,
		"slaves":                  nonNil(agents),
		"recovered_slaves":        []any{},
		"frameworks":              nonNil(frameworks),
		"completed_frameworks":    nonNil(completed),
		"orphan_tasks":            []any{},
		"unregistered_frameworks": []any{},
	}
}

func masterInfoModel(i *mesos.MasterInfo) map[string]any {
	return map[string]any{
		"id": i.GetId(), "ip": i.GetIp(), "port": i.GetPort(), "pid": i.GetPid(), "hostname": i.GetHostname(), "version": i.GetVersion(),
		"address": map[string]any{"hostname": i.GetAddress().GetHostname(), "ip": i.GetAddress().GetIp(), "port": i.GetAddress().GetPort()},
	}
}

func (f frameworkSnapshot) model() map[string]any {
	var used, offered []*mesos.Resource
	tasks := make([]any, 0, len(f.tasks))
	for _, t := range f.tasks {
		tasks = append(tasks, model.Task(t))
		if !taskstate.IsTerminal(t.GetState()) {
			used = append(used, t.GetResources()...)
		}
	}
	for _, e := range f.executors {
		used = append(used, e.info.GetResources()...)
	}
	completed := make([]any, 0, len(f.completedTasks))
	for _, t := range f.completedTasks {
		completed = append(completed, model.Task(t))
	}
	offers := make([]any, 0, len(f.offers))
	for _, o := range f.offers {
		offered = append(offered, o.GetResources()...)
		offers = append(offers, map[string]any{
			"id": o.GetId().GetValue(), "framework_id": o.GetFrameworkId().GetValue(), "slave_id": o.GetAgentId().GetValue(),
			"resources": model.Resources(o.GetResources()), "allocation_info": map[string]any{"role": o.GetAllocationInfo().GetRole()},
		})
	}
	executors := make([]any, 0, len(f.executors))
	for _, e := range f.executors {
		executors = append(executors, map[string]any{
			"executor_id": e.info.GetExecutorId().GetValue(), "name": e.info.GetName(), "framework_id": e.info.GetFrameworkId().GetValue(),
			"slave_id": e.agentID, "resources": model.Resources(e.info.GetResources()),
		})
	}
	var caps []string
	for _, c := range f.info.GetCapabilities() {
		caps = append(caps, c.GetType().String())
	}
	i := f.info
	out := map[string]any{
		"id": i.GetId().GetValue(), "name": i.GetName(), "user": i.GetUser(), "hostname": i.GetHostname(),
		"webui_url": i.GetWebuiUrl(), "principal": i.GetPrincipal(), "role": i.GetRole(), "roles": nonNilStrings(frameworkRoles(i)),
		"failover_timeout": i.GetFailoverTimeout(), "checkpoint": i.GetCheckpoint(), "capabilities": nonNilStrings(caps),
		"active": f.active, "connected": f.connected, "recovered": false,
		"registered_time": model.Seconds(f.registered), "unregistered_time": model.Seconds(f.unregistered),
		"used_resources": model.Resources(used), "offered_resources": model.Resources(offered), "resources": model.Resources(append(used[:len(used):len(used)], offered...)),
		"tasks": tasks, "completed_tasks": completed, "unreachable_tasks": []any{}, "offers": offers, "executors": executors,
	}
	if !f.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(f.reregistered)
	}
	return out
}

func (a agentSnapshot) model() map[string]any {
	i := a.info
	attrs := map[string]any{}
	for _, at := range i.GetAttributes() {
		attrs[at.GetName()] = model.AttributeValue(at)
	}
	out := map[string]any{
		"id": i.GetId().GetValue(), "pid": "slave(1)@" + a.endpoint, "hostname": i.GetHostname(), "port": i.GetPort(),
		"registered_time": model.Seconds(a.registered), "resources": model.Resources(i.GetResources()),
		"used_resources": model.Resources(a.used), "offered_resources": model.Resources(a.offered),
		"reserved_resources": map[string]any{}, "unreserved_resources": model.Resources(i.GetResources()),
		"attributes": attrs, "active": a.active, "deactivated": !a.active, "version": a.version,
		"capabilities": []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
	}
	if !a.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(a.reregistered)
	}
	return out
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
