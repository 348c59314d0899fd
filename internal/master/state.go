package master

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/model"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/version"
)

// The master's state is served from a snapshot: the loop hands over the
// lists it keeps and pointers to its (immutable) records, and the JSON is
// built on the HTTP goroutine, so a large /master/state never stalls
// scheduler calls.
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

// takeSnapshot has the loop take a snapshot, for a handler.
func (m *Master) takeSnapshot(ctx context.Context) (*stateSnapshot, error) {
	var s *stateSnapshot
	err := m.do(ctx, func() { s = m.snapshot() })
	return s, err
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
	snap, err := m.takeSnapshot(r.Context())
	if err != nil {
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
	prefix, suffix := jsonp(r)
	out.write(prefix)
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
	out.write(suffix)
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
	if prefix, suffix := jsonp(r); prefix != nil {
		b = append(append(prefix, bytes.TrimSuffix(b, []byte{'\n'})...), append(suffix, '\n')...)
	}
	_, _ = w.Write(b) // too late for a status: the client sees a cut body
}

// jsonp is what wraps a JSON answer when the request asks for Mesos's
// ?jsonp=callback: "callback(" and ");", or nothing.
func jsonp(r *http.Request) (prefix, suffix []byte) {
	if callback := r.URL.Query().Get("jsonp"); callback != "" {
		return []byte(callback + "("), []byte(");")
	}
	return nil, nil
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
