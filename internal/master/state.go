package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
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
		leader: m.leaderHTTP(), elected: m.leading.Load(),
		frameworks: make([]frameworkSnapshot, 0, len(m.frameworks)), agents: make([]agentSnapshot, 0, len(m.agents))}
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
	f.tasks = fw.tasksList()
	f.completedTasks = slices.Clip(fw.completedTasks)
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

// snapshot copies an agent's record.
func (a *agent) snapshot() agentSnapshot {
	as := agentSnapshot{info: a.info, total: a.total, endpoint: a.endpoint, version: a.version, active: a.active && a.link != nil && !a.deactivated,
		deactivated: a.deactivated, drain: a.drain, registered: a.registered, reregistered: a.reregistered, used: a.used}
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
	m.serveParts(w, r, func(s *stateSnapshot) (map[string]any, []partList) {
		return s.head(), []partList{s.agentParts(), s.frameworkParts("frameworks", s.frameworks), s.frameworkParts("completed_frameworks", s.completedFrameworks)}
	})
}

// partList is one of /master/state's lists of agents or frameworks: its
// key and its elements, each a part the state cache keeps.
type partList struct {
	key   string
	parts []partRequest
}

func (s *stateSnapshot) agentParts() partList {
	sortAgents(s.agents)
	l := partList{key: "slaves", parts: make([]partRequest, 0, len(s.agents))}
	for _, a := range s.agents {
		l.parts = append(l.parts, partRequest{"slaves/" + a.info.GetId().GetValue(), a.fingerprint(), a, func() []byte { return a.appendJSON(nil) }})
	}
	return l
}

func (s *stateSnapshot) frameworkParts(key string, fws []frameworkSnapshot) partList {
	sort.Slice(fws, func(i, j int) bool { return fws[i].info.GetId().GetValue() < fws[j].info.GetId().GetValue() })
	l := partList{key: key, parts: make([]partRequest, 0, len(fws))}
	for _, f := range fws {
		l.parts = append(l.parts, partRequest{key + "/" + f.info.GetId().GetValue(), f.fingerprint(), f, func() []byte { return f.appendJSON(nil) }})
	}
	return l
}

// serveParts serves a JSON object of a snapshot: the fields of head,
// then lists of parts kept by the state cache between renders (and
// rendered off the loop), with Mesos's ?jsonp=callback.
func (m *Master) serveParts(w http.ResponseWriter, r *http.Request, doc func(*stateSnapshot) (map[string]any, []partList)) {
	var snap *stateSnapshot
	if err := m.do(r.Context(), func() { snap = m.snapshot() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	head, lists := doc(snap)
	var reqs []partRequest
	keys := make([]string, len(lists))
	for i, l := range lists {
		reqs, keys[i] = append(reqs, l.parts...), l.key
	}
	parts := m.stateJSON.resolve(keys, reqs)

	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 256<<10)
	out := errWriter{w: bw}
	callback := r.URL.Query().Get("jsonp")
	if callback != "" {
		out.write([]byte(callback + "("))
	}
	hb, _ := json.Marshal(head) // strings, numbers and small maps
	out.write(hb[:len(hb)-1])
	for i, l := range lists {
		if i > 0 || len(head) > 0 {
			out.write([]byte{','})
		}
		out.write([]byte(`"` + l.key + `":[`))
		for k, part := range parts[:len(l.parts)] {
			if k > 0 {
				out.write([]byte{','})
			}
			out.write(part)
		}
		parts = parts[len(l.parts):]
		out.write([]byte{']'})
	}
	out.write([]byte{'}'})
	if callback != "" {
		out.write([]byte(");"))
	}
	out.write([]byte{'\n'})
	if out.err == nil {
		_ = bw.Flush() // too late for a status: the client sees a cut body
	}
}

// errWriter writes until the first error, and keeps it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// appendJSON appends a framework's model, its lists rendered directly.
func (f frameworkSnapshot) appendJSON(b []byte) []byte {
	fb, _ := json.Marshal(f.model()) // maps of strings, numbers and bools
	if b == nil {                    // most of a framework is its tasks: size for them
		b = make([]byte, 0, len(fb)+taskJSONSize*(len(f.tasks)+len(f.completedTasks)+len(f.unreachableTasks)))
	}
	b = append(b, fb[:len(fb)-1]...)
	for _, list := range f.lists() {
		b = append(b, `,"`...)
		b = append(b, list.key...)
		b = append(b, `":[`...)
		b = list.append(b)
		b = append(b, ']')
	}
	return append(b, '}')
}

// taskJSONSize is about the size of a task's JSON with one status.
const taskJSONSize = 512

// fingerprint identifies what appendJSON renders (see stateCache).
func (f frameworkSnapshot) fingerprint() uint64 {
	var fp fingerprint
	addShared(&fp, 10, f.tasks)
	addShared(&fp, 20, f.completedTasks)
	addEach(&fp, 30, f.unreachableTasks)
	addEach(&fp, 40, f.offers)
	fp.add(50, uint64(len(f.executors)))
	for _, e := range f.executors {
		fp.addPtr(51, unsafe.Pointer(e.info))
	}
	fp.addPtr(60, unsafe.Pointer(f.info))
	fp.addBool(70, f.active)
	fp.addBool(80, f.connected)
	fp.addTime(90, f.registered)
	fp.addTime(100, f.reregistered)
	fp.addTime(110, f.unregistered)
	return uint64(fp)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpapi.WriteError(w, fmt.Errorf("rendering JSON: %w", err))
		return
	}
	writeRaw(w, r, append(b, '\n'))
}

// writeRaw writes JSON, wrapped as Mesos's ?jsonp=callback asks (its web
// UI used it).
func writeRaw(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	if callback := r.URL.Query().Get("jsonp"); callback != "" {
		b = append(append([]byte(callback+"("), bytes.TrimSuffix(b, []byte{'\n'})...), ");\n"...)
	}
	_, _ = w.Write(b) // too late for a status: the client sees a cut body
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

// usedAndOffered lists the resources of a framework's live tasks and
// executors, and of its offers (not summed).
func (f frameworkSnapshot) usedAndOffered() (used, offered []*mesos.Resource) {
	for _, t := range f.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			used = append(used, t.GetResources()...)
		}
	}
	for _, e := range f.executors {
		used = append(used, e.info.GetResources()...)
	}
	for _, o := range f.offers {
		offered = append(offered, o.GetResources()...)
	}
	return used, offered
}

// model is a framework's JSON model without its lists (tasks, completed
// and unreachable tasks, offers and executors: see lists).
func (f frameworkSnapshot) model() map[string]any {
	used, offered := f.usedAndOffered()
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
	}
	if !f.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(f.reregistered)
	}
	if labels := i.GetLabels().GetLabels(); len(labels) > 0 {
		list := make([]any, 0, len(labels))
		for _, l := range labels {
			list = append(list, model.Proto(l))
		}
		out["labels"] = list
	}
	return out
}

// frameworkList is one of a framework's lists in its model, rendered by
// appending its elements.
type frameworkList struct {
	key    string
	append func([]byte) []byte
}

func (f frameworkSnapshot) lists() []frameworkList {
	return []frameworkList{
		{"tasks", func(b []byte) []byte { return appendTasks(b, f.tasks) }},
		{"completed_tasks", func(b []byte) []byte { return appendTasks(b, f.completedTasks) }},
		{"unreachable_tasks", func(b []byte) []byte { return appendTasks(b, f.unreachableTasks) }},
		{"offers", f.appendOffers},
		{"executors", f.appendExecutors},
	}
}

// appendOffers appends the elements of a framework's "offers".
func (f frameworkSnapshot) appendOffers(b []byte) []byte {
	for i, o := range f.offers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"allocation_info":{"role":`...)
		b = codec.AppendString(b, o.GetAllocationInfo().GetRole())
		b = append(b, `},"framework_id":`...)
		b = codec.AppendString(b, o.GetFrameworkId().GetValue())
		b = append(b, `,"id":`...)
		b = codec.AppendString(b, o.GetId().GetValue())
		b = append(b, `,"resources":`...)
		b = model.AppendResources(b, o.GetResources())
		b = append(b, `,"slave_id":`...)
		b = codec.AppendString(b, o.GetAgentId().GetValue())
		b = append(b, '}')
	}
	return b
}

// appendExecutors appends the elements of a framework's "executors".
func (f frameworkSnapshot) appendExecutors(b []byte) []byte {
	for i, e := range f.executors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"executor_id":`...)
		b = codec.AppendString(b, e.info.GetExecutorId().GetValue())
		b = append(b, `,"framework_id":`...)
		b = codec.AppendString(b, e.info.GetFrameworkId().GetValue())
		b = append(b, `,"name":`...)
		b = codec.AppendString(b, e.info.GetName())
		b = append(b, `,"resources":`...)
		b = model.AppendResources(b, e.info.GetResources())
		b = append(b, `,"slave_id":`...)
		b = codec.AppendString(b, e.agentID)
		b = append(b, '}')
	}
	return b
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
	if a.drain != nil {
		out["drain_info"] = model.Proto(a.drain)
	}
	return out
}

// fingerprint identifies what appendJSON renders (see stateCache).
func (a agentSnapshot) fingerprint() uint64 {
	var f fingerprint
	f.addPtr(10, unsafe.Pointer(a.info))
	addShared(&f, 20, a.total)
	addShared(&f, 30, a.used)
	addEach(&f, 40, a.offered)
	f.addBool(50, a.active)
	f.addBool(60, a.deactivated)
	f.addTime(70, a.registered)
	f.addTime(80, a.reregistered)
	f.addString(90, a.endpoint)
	f.addString(100, a.version)
	f.addPtr(110, unsafe.Pointer(a.drain))
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
	if a.drain != nil {
		b = append(b, `,"drain_info":`...)
		b = append(b, model.Proto(a.drain)...)
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

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
