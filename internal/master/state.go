package master

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"time"
	"unsafe"

	"github.com/plateau/plateau/internal/api/codec"

	"github.com/plateau/plateau/internal/httpapi"

	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/model"
	"github.com/plateau/plateau/internal/resources"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/version"
)

// The master's state is served from a snapshot: the loop copies pointers to
// its (immutable) records, and the JSON is built on the HTTP goroutine, so
// a large /master/state never stalls scheduler calls.

type stateSnapshot struct {
	info                *mesos.MasterInfo
	leader              string // the leader's host:port, "" when none is known
	elected             bool   // this master leads
	start               time.Time
	flags               map[string]string
	weights             map[string]float64
	usageFilled         bool
	unreachableAgents   int
	frameworks          []frameworkSnapshot
	completedFrameworks []frameworkSnapshot
	agents              []agentSnapshot
}

type frameworkSnapshot struct {
	info                                   *mesos.FrameworkInfo
	active, connected                      bool
	registered, reregistered, unregistered time.Time
	tasks, completedTasks                  []*mesos.Task
	unreachableTasks                       []*mesos.Task
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
	active, deactivated      bool
	drain                    *mesos.DrainInfo
	registered, reregistered time.Time
	used, offered            []*mesos.Resource
	// total is the agent's resources with its dynamic reservations and
	// volumes; info.resources are its static ones.
	total resources.Resources
}

// snapshot copies the state's records. Runs on the loop.
func (m *Master) snapshot() *stateSnapshot {
	s := &stateSnapshot{info: m.info, start: m.start, flags: m.flagMap(), weights: maps.Clone(m.weights), unreachableAgents: len(m.unreachable),
		leader: m.leaderHTTP(), elected: m.leading.Load()}
	for _, fw := range m.frameworks {
		s.frameworks = append(s.frameworks, fw.snapshot())
	}
	for _, fw := range m.completedFrameworks {
		s.completedFrameworks = append(s.completedFrameworks, fw.snapshot())
	}
	for _, a := range m.agents {
		s.agents = append(s.agents, a.snapshot(false))
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
	for _, t := range fw.unreachableTasks {
		f.unreachableTasks = append(f.unreachableTasks, t)
	}
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

// snapshot copies an agent's record. Its used resources are gathered
// only withUsage: a whole-state snapshot fills them in later, off the
// loop, from the frameworks' tasks (fillUsage).
func (a *agent) snapshot(withUsage bool) agentSnapshot {
	as := agentSnapshot{info: a.info, total: a.total, endpoint: a.endpoint, version: a.version, active: a.active && a.link != nil && !a.deactivated,
		deactivated: a.deactivated, drain: a.drain,
		registered: a.registered, reregistered: a.reregistered}
	if !withUsage {
		for _, o := range a.offers {
			as.offered = append(as.offered, o.resources...)
		}
		return as
	}
	// Plain concatenation: summing is left to the readers, off the loop.
	for _, tasks := range a.tasks {
		for _, t := range tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				as.used = append(as.used, t.GetResources()...)
			}
		}
	}
	for _, execs := range a.executors {
		for _, e := range execs {
			as.used = append(as.used, e.GetResources()...)
		}
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

// fillUsage sets every agent's used resources from the frameworks' tasks
// and executors. It runs once, off the loop, before the snapshot is read.
func (s *stateSnapshot) fillUsage() {
	if s.usageFilled {
		return
	}
	s.usageFilled = true
	used := map[string][]*mesos.Resource{}
	for _, f := range s.frameworks {
		for _, t := range f.tasks {
			if !taskstate.IsTerminal(t.GetState()) {
				id := t.GetAgentId().GetValue()
				used[id] = append(used[id], t.GetResources()...)
			}
		}
		for _, e := range f.executors {
			used[e.agentID] = append(used[e.agentID], e.info.GetResources()...)
		}
	}
	for i := range s.agents {
		s.agents[i].used = used[s.agents[i].info.GetId().GetValue()]
	}
}

// serveState is /master/state (and /master/state.json, /state).
func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	var snap *stateSnapshot
	if err := m.do(r.Context(), func() { snap = m.snapshot() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if r.URL.Query().Has("jsonp") {
		writeJSON(w, r, snap.model())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 256<<10)
	m.stateJSON.begin()
	_ = snap.write(bw, &m.stateJSON)
	m.stateJSON.end()
	_ = bw.Flush()
}

// write streams /master/state: the bulk (tasks) is rendered straight into
// bytes, the rest through maps.
func (s *stateSnapshot) write(w io.Writer, cache *stateCache) error {
	s.fillUsage()
	for _, fws := range [][]frameworkSnapshot{s.frameworks, s.completedFrameworks} {
		sort.Slice(fws, func(i, j int) bool { return fws[i].info.GetId().GetValue() < fws[j].info.GetId().GetValue() })
	}
	b, err := json.Marshal(s.head())
	if err != nil {
		return err
	}
	b = append(b[:len(b)-1], `,"slaves":[`...)
	for i, a := range s.agents {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, cache.part(cache.agents, cache.next.agents, a.info.GetId().GetValue(), a.fingerprint(), func() []byte {
			return a.appendJSON(nil)
		})...)
		if b, err = flushIfLarge(w, b); err != nil {
			return err
		}
	}
	for _, part := range []struct {
		key string
		fws []frameworkSnapshot
	}{{"frameworks", s.frameworks}, {"completed_frameworks", s.completedFrameworks}} {
		b = append(b, `],"`...)
		b = append(b, part.key...)
		b = append(b, `":[`...)
		for i, f := range part.fws {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, cache.part(cache.frameworks, cache.next.frameworks, part.key+"/"+f.info.GetId().GetValue(), f.fingerprint(), func() []byte {
				fb, _ := f.appendJSON(nil)
				return fb
			})...)
			if b, err = flushIfLarge(w, b); err != nil {
				return err
			}
		}
	}
	b = append(b, "]}\n"...)
	_, err = w.Write(b)
	return err
}

// appendJSON appends a framework's model, with its tasks rendered
// directly.
func (f frameworkSnapshot) appendJSON(b []byte) ([]byte, error) {
	fm := f.model(false)
	delete(fm, "tasks")
	delete(fm, "completed_tasks")
	fb, err := json.Marshal(fm)
	if err != nil {
		return b, err
	}
	b = append(b, fb[:len(fb)-1]...)
	b = append(b, `,"tasks":[`...)
	b = appendTasks(b, f.tasks)
	b = append(b, `],"completed_tasks":[`...)
	b = appendTasks(b, f.completedTasks)
	return append(b, "]}"...), nil
}

// fingerprint identifies what appendJSON renders (see stateCache).
func (f frameworkSnapshot) fingerprint() uint64 {
	var fp fingerprint
	fp.add(1, tasksFingerprint(f.tasks, 1))
	fp.add(2, tasksFingerprint(f.completedTasks, 2))
	fp.add(3, tasksFingerprint(f.unreachableTasks, 3))
	fp.addPtr(4, unsafe.Pointer(f.info))
	fp.add(5, uint64(len(f.executors)))
	for _, e := range f.executors {
		fp.addPtr(6, unsafe.Pointer(e.info))
	}
	fp.add(7, uint64(len(f.offers)))
	for _, o := range f.offers {
		fp.addPtr(8, unsafe.Pointer(o))
	}
	fp.addBool(9, f.active)
	fp.addBool(10, f.connected)
	fp.addTime(11, f.registered)
	fp.addTime(12, f.reregistered)
	fp.addTime(13, f.unregistered)
	return uint64(fp)
}

func flushIfLarge(w io.Writer, b []byte) ([]byte, error) {
	if len(b) < 64<<10 {
		return b, nil
	}
	_, err := w.Write(b)
	return b[:0], err
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
	s.fillUsage()
	out := s.head()
	var frameworks, completed, agents []any
	for _, f := range s.frameworks {
		frameworks = append(frameworks, f.model(true))
	}
	for _, f := range s.completedFrameworks {
		completed = append(completed, f.model(true))
	}
	for _, a := range s.agents {
		agents = append(agents, a.model())
	}
	out["slaves"] = nonNil(agents)
	out["frameworks"] = nonNil(frameworks)
	out["completed_frameworks"] = nonNil(completed)
	return out
}

// sortAgents orders agents by ID, reading each ID once.
func sortAgents(agents []agentSnapshot) {
	ids := make([]string, len(agents))
	order := make([]int, len(agents))
	for i, a := range agents {
		ids[i], order[i] = a.info.GetId().GetValue(), i
	}
	sort.Slice(order, func(i, j int) bool { return ids[order[i]] < ids[order[j]] })
	sorted := make([]agentSnapshot, len(agents))
	for i, k := range order {
		sorted[i] = agents[k]
	}
	copy(agents, sorted)
}

// head is /master/state without its agents and frameworks.
func (s *stateSnapshot) head() map[string]any {
	// A standby says who leads (Mesos's "leader"); it has no leader_info
	// of its own to give.
	leader := ""
	if s.leader != "" {
		leader = "master@" + s.leader
	}
	activated, deactivated := 0, 0
	sortAgents(s.agents)
	for _, a := range s.agents {
		if a.active {
			activated++
		} else {
			deactivated++
		}
	}
	out := map[string]any{
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
		"activated_slaves":        activated,
		"deactivated_slaves":      deactivated,
		"unreachable_slaves":      s.unreachableAgents,
		"flags":                   s.flags,
		"recovered_slaves":        []any{},
		"orphan_tasks":            []any{},
		"unregistered_frameworks": []any{},
	}
	if s.elected {
		out["leader_info"] = masterInfoModel(s.info)
	} else {
		delete(out, "elected_time")
	}
	return out
}

func masterInfoModel(i *mesos.MasterInfo) map[string]any {
	return map[string]any{
		"id": i.GetId(), "ip": i.GetIp(), "port": i.GetPort(), "pid": i.GetPid(), "hostname": i.GetHostname(), "version": i.GetVersion(),
		"address": map[string]any{"hostname": i.GetAddress().GetHostname(), "ip": i.GetAddress().GetIp(), "port": i.GetAddress().GetPort()},
	}
}

// model is a framework's JSON model; withTasks false leaves out its tasks
// and completed tasks (for callers that render them themselves).
func (f frameworkSnapshot) model(withTasks bool) map[string]any {
	var used, offered []*mesos.Resource
	tasks := make([]any, 0, len(f.tasks))
	for _, t := range f.tasks {
		if withTasks {
			tasks = append(tasks, model.Task(t))
		}
		if !taskstate.IsTerminal(t.GetState()) {
			used = append(used, t.GetResources()...)
		}
	}
	for _, e := range f.executors {
		used = append(used, e.info.GetResources()...)
	}
	completed := make([]any, 0, len(f.completedTasks))
	for _, t := range f.completedTasks {
		if withTasks {
			completed = append(completed, model.Task(t))
		}
	}
	unreachable := make([]any, 0, len(f.unreachableTasks))
	for _, t := range f.unreachableTasks {
		unreachable = append(unreachable, model.Task(t))
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
		"tasks": tasks, "completed_tasks": completed, "unreachable_tasks": unreachable, "offers": offers, "executors": executors,
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
		"registered_time": model.Seconds(a.registered), "resources": model.Resources(a.total),
		"used_resources": model.Resources(a.used), "offered_resources": model.Resources(a.offered),
		"reserved_resources": reservedModel(a.total), "unreserved_resources": model.Resources(a.total.Unreserved()),
		"reserved_resources_full": reservedFull(a.total),
		"attributes":              attrs, "active": a.active, "deactivated": a.deactivated, "version": a.version,
		"capabilities": []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
	}
	if !a.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(a.reregistered)
	}
	return out
}

// fingerprint identifies what appendJSON renders (see stateCache).
func (a agentSnapshot) fingerprint() uint64 {
	var f fingerprint
	f.addPtr(1, unsafe.Pointer(a.info))
	f.add(2, uint64(len(a.total)))
	if len(a.total) > 0 {
		f.addPtr(3, unsafe.Pointer(&a.total[0]))
	}
	for i, list := range [][]*mesos.Resource{a.used, a.offered} {
		salt := uint64(10 * (i + 1))
		f.add(salt, uint64(len(list)))
		for _, r := range list {
			f.addPtr(salt+1, unsafe.Pointer(r))
		}
	}
	f.addBool(4, a.active)
	f.addBool(5, a.deactivated)
	f.addTime(6, a.registered)
	f.addTime(7, a.reregistered)
	f.add(8, uint64(len(a.endpoint)))
	f.add(9, uint64(len(a.version)))
	return uint64(f)
}

// appendJSON appends an agent's model without building maps (10,000 of
// them make up much of /master/state); it renders what model does.
func (a agentSnapshot) appendJSON(b []byte) []byte {
	i := a.info
	str := func(key, v string) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = codec.AppendString(b, v)
	}
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, i.GetId().GetValue())
	str("pid", "slave(1)@"+a.endpoint)
	str("hostname", i.GetHostname())
	str("version", a.version)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(i.GetPort()), 10)
	b = append(b, `,"registered_time":`...)
	b = strconv.AppendFloat(b, model.Seconds(a.registered), 'f', -1, 64)
	if !a.reregistered.IsZero() {
		b = append(b, `,"reregistered_time":`...)
		b = strconv.AppendFloat(b, model.Seconds(a.reregistered), 'f', -1, 64)
	}
	b = append(b, `,"resources":`...)
	b = model.AppendResources(b, a.total)
	b = append(b, `,"unreserved_resources":`...)
	if unreserved := a.total.Unreserved(); len(unreserved) == len(a.total) {
		b = model.AppendResources(b, a.total)
		b = append(b, `,"reserved_resources":{},"reserved_resources_full":{}`...)
	} else {
		b = model.AppendResources(b, unreserved)
		b = append(b, `,"reserved_resources":`...)
		rb, _ := json.Marshal(reservedModel(a.total))
		b = append(b, rb...)
		b = append(b, `,"reserved_resources_full":`...)
		rb, _ = json.Marshal(reservedFull(a.total))
		b = append(b, rb...)
	}
	b = append(b, `,"used_resources":`...)
	b = model.AppendResources(b, a.used)
	b = append(b, `,"offered_resources":`...)
	b = model.AppendResources(b, a.offered)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, a.active)
	b = append(b, `,"deactivated":`...)
	b = strconv.AppendBool(b, a.deactivated)
	b = append(b, `,"capabilities":["MULTI_ROLE","HIERARCHICAL_ROLE","RESERVATION_REFINEMENT"],"attributes":`...)
	if len(i.GetAttributes()) == 0 {
		b = append(b, "{}"...)
	} else {
		attrs := map[string]any{}
		for _, at := range i.GetAttributes() {
			attrs[at.GetName()] = model.AttributeValue(at)
		}
		ab, _ := json.Marshal(attrs)
		b = append(b, ab...)
	}
	return append(b, '}')
}

// reservedByRole groups reserved resources by the role they are
// reserved for.
func reservedByRole(rs resources.Resources) map[string]resources.Resources {
	out := map[string]resources.Resources{}
	for _, r := range rs {
		if role := resources.ReservationRole(r); role != "*" {
			out[role] = append(out[role], r)
		}
	}
	return out
}

// reservedModel is Mesos's "reserved_resources": role to summed resources.
func reservedModel(rs resources.Resources) map[string]any {
	out := map[string]any{}
	for role, r := range reservedByRole(rs) {
		out[role] = model.Resources(r)
	}
	return out
}

// reservedFull is Mesos's "reserved_resources_full": role to the
// Resource objects, in Mesos's JSON.
func reservedFull(rs resources.Resources) map[string]any {
	out := map[string]any{}
	for role, r := range reservedByRole(rs) {
		list := make([]any, 0, len(r))
		for _, res := range r {
			list = append(list, model.Proto(res))
		}
		out[role] = list
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
