package master

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/model"
)

// The rest of Mesos's master endpoints that tools scrape, each a view of
// the same snapshot as /master/state.

func (m *Master) withSnapshot(w http.ResponseWriter, r *http.Request, render func(*stateSnapshot) any) {
	snap, err := m.takeSnapshot(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	writeJSON(w, r, render(snap))
}

// serveFrameworks is /master/frameworks.
func (m *Master) serveFrameworks(w http.ResponseWriter, r *http.Request) {
	m.serveParts(w, r, func(s *stateSnapshot) (map[string]any, []partList) {
		return map[string]any{"unregistered_frameworks": []any{}},
			[]partList{s.frameworkParts("frameworks", s.frameworks), s.frameworkParts("completed_frameworks", s.completedFrameworks)}
	})
}

// serveSlaves is /master/slaves.
func (m *Master) serveSlaves(w http.ResponseWriter, r *http.Request) {
	m.serveParts(w, r, func(s *stateSnapshot) (map[string]any, []partList) {
		return map[string]any{"recovered_slaves": []any{}}, []partList{s.agentParts()}
	})
}

// serveTasks is /master/tasks with Mesos's limit (default 100), offset,
// order (asc or des, by task ID), framework_id and task_id filters.
func (m *Master) serveTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset := 100, 0
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			httpapi.WriteError(w, badRequest("Failed to parse limit: %q", v))
			return
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			httpapi.WriteError(w, badRequest("Failed to parse offset: %q", v))
			return
		}
	}
	order := q.Get("order")
	if order != "" && order != "asc" && order != "des" {
		httpapi.WriteError(w, badRequest("Failed to parse order: %q is not 'asc' or 'des'", order))
		return
	}
	snap, err := m.takeSnapshot(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	frameworkID, taskID := q.Get("framework_id"), q.Get("task_id")
	type byID struct {
		id string
		t  *mesos.Task
	}
	var found []byID
	for _, f := range append(snap.frameworks[:len(snap.frameworks):len(snap.frameworks)], snap.completedFrameworks...) {
		if frameworkID != "" && f.info.GetId().GetValue() != frameworkID {
			continue
		}
		for _, list := range [][]*mesos.Task{f.tasks, f.completedTasks} {
			for _, t := range list {
				if id := t.GetTaskId().GetValue(); taskID == "" || id == taskID {
					found = append(found, byID{id, t})
				}
			}
		}
	}
	slices.SortFunc(found, func(a, b byID) int {
		if order == "des" {
			a, b = b, a
		}
		return strings.Compare(a.id, b.id)
	})
	found = found[min(offset, len(found)):]
	tasks := make([]*mesos.Task, 0, min(limit, len(found)))
	for _, f := range found[:min(limit, len(found))] {
		tasks = append(tasks, f.t)
	}
	b := append(appendTasks([]byte(`{"tasks":[`), tasks), "]}\n"...)
	writeRaw(w, r, b)
}

// serveRoles is /master/roles.
func (m *Master) serveRoles(w http.ResponseWriter, r *http.Request) {
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		roles := []any{}
		for _, role := range s.getRoles().GetRoles() {
			ids := []string{}
			for _, id := range role.GetFrameworks() {
				ids = append(ids, id.GetValue())
			}
			roles = append(roles, map[string]any{"name": role.GetName(), "weight": role.GetWeight(),
				"frameworks": ids, "resources": model.Resources(role.GetResources())})
		}
		return map[string]any{"roles": roles}
	})
}

// serveWeights is /master/weights.
func (m *Master) serveWeights(w http.ResponseWriter, r *http.Request) {
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		out := []any{}
		roles := make([]string, 0, len(s.weights))
		for role := range s.weights {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		for _, role := range roles {
			out = append(out, map[string]any{"role": role, "weight": s.weights[role]})
		}
		return out
	})
}

// serveFlags is /master/flags.
func (m *Master) serveFlags(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, map[string]any{"flags": m.flagMap()})
}

// serveStateSummary is /master/state-summary: agents and frameworks with
// task counts by state, without the tasks.
func (m *Master) serveStateSummary(w http.ResponseWriter, r *http.Request) {
	s, err := m.takeSnapshot(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	// Task counts by state, and the frameworks an agent runs tasks of (and
	// the agents a framework's tasks are on).
	type summary struct {
		counts taskCounts
		ids    map[string]struct{}
	}
	add := func(to map[string]*summary, key, id string, state mesos.TaskState) {
		sum := to[key]
		if sum == nil {
			sum = &summary{ids: map[string]struct{}{}}
			to[key] = sum
		}
		sum.counts.add(state)
		sum.ids[id] = struct{}{}
	}
	byAgent, byFramework := map[string]*summary{}, map[string]*summary{}
	for _, f := range s.frameworks {
		fwID := f.info.GetId().GetValue()
		for _, list := range [][]*mesos.Task{f.tasks, f.completedTasks} {
			for _, t := range list {
				agentID := t.GetAgentId().GetValue()
				add(byFramework, fwID, agentID, t.GetState())
				add(byAgent, agentID, fwID, t.GetState())
			}
		}
	}
	appendSummary := func(b []byte, sum *summary, idsKey string) []byte {
		if sum == nil {
			sum = &summary{}
		}
		b = sum.counts.appendJSON(b)
		ids := slices.Sorted(maps.Keys(sum.ids))
		if ids == nil {
			ids = []string{}
		}
		idsJSON, _ := json.Marshal(ids)
		b = append(b, `,"`+idsKey+`":`...)
		return append(append(b, idsJSON...), '}')
	}

	agents := s.agentParts()
	parts := m.stateJSON.resolve([]string{agents.key}, agents.parts)
	b, _ := json.Marshal(map[string]any{"hostname": s.info.GetHostname(), "cluster": ""})
	b = append(b[:len(b)-1], `,"slaves":[`...)
	for i, a := range s.agents {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSummary(append(b, parts[i][:len(parts[i])-1]...), byAgent[a.info.GetId().GetValue()], "framework_ids")
	}
	b = append(b, `],"frameworks":[`...)
	for i, f := range s.frameworks {
		if i > 0 {
			b = append(b, ',')
		}
		fm, _ := json.Marshal(f.model()) // strings, numbers and small maps
		b = appendSummary(append(b, fm[:len(fm)-1]...), byFramework[f.info.GetId().GetValue()], "slave_ids")
	}
	writeRaw(w, r, append(b, "]}\n"...))
}

// summaryStates are the task states /master/state-summary counts, as
// Mesos's does.
var summaryStates = [...]mesos.TaskState{mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING,
	mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_KILLED, mesos.TaskState_TASK_FAILED,
	mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_UNREACHABLE}

// taskCounts counts tasks by state, in summaryStates' order.
type taskCounts [len(summaryStates)]int

func (c *taskCounts) add(state mesos.TaskState) {
	if i := slices.Index(summaryStates[:], state); i >= 0 {
		c[i]++
	}
}

// appendJSON appends the counts as fields ("TASK_RUNNING":3), each after
// a comma.
func (c *taskCounts) appendJSON(b []byte) []byte {
	for i, state := range summaryStates {
		b = append(b, `,"`...)
		b = append(b, state.String()...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(c[i]), 10)
	}
	return b
}

// serveTeardown is POST /master/teardown with frameworkId=ID.
func (m *Master) serveTeardown(w http.ResponseWriter, r *http.Request) {
	if !httpapi.RequirePOST(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		httpapi.WriteError(w, badRequest("Failed to parse the request body: %v", err))
		return
	}
	id := r.PostForm.Get("frameworkId")
	if id == "" {
		httpapi.WriteError(w, badRequest("Missing 'frameworkId' query parameter in the request body"))
		return
	}
	var found bool
	if err := m.do(r.Context(), func() {
		if fw := m.frameworks[id]; fw != nil {
			found = true
			m.removeFramework(fw)
		}
	}); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if !found {
		httpapi.WriteError(w, badRequest("No framework found with specified ID"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveQuota is GET /master/quota: the QuotaStatus in Mesos's JSON.
func (m *Master) serveQuota(w http.ResponseWriter, r *http.Request) {
	var st *quota.QuotaStatus
	if err := m.do(r.Context(), func() { st = m.quotaStatus() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteMessage(w, codec.JSON, st)
}
