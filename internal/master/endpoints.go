package master

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/plateau/plateau/internal/api/codec"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/model"
)

// The rest of Mesos's master endpoints that tools scrape, each a view of
// the same snapshot as /master/state.

func (m *Master) withSnapshot(w http.ResponseWriter, r *http.Request, render func(*stateSnapshot) any) {
	var snap *stateSnapshot
	if err := m.do(r.Context(), func() { snap = m.snapshot() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	writeJSON(w, r, render(snap))
}

// serveFrameworks is /master/frameworks.
func (m *Master) serveFrameworks(w http.ResponseWriter, r *http.Request) {
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		st := s.model()
		return map[string]any{"frameworks": st["frameworks"], "completed_frameworks": st["completed_frameworks"], "unregistered_frameworks": []any{}}
	})
}

// serveSlaves is /master/slaves.
func (m *Master) serveSlaves(w http.ResponseWriter, r *http.Request) {
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		agents := []any{}
		for _, a := range s.agents {
			agents = append(agents, a.model())
		}
		return map[string]any{"slaves": agents, "recovered_slaves": []any{}}
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
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		var tasks []map[string]any
		for _, f := range append(append([]frameworkSnapshot{}, s.frameworks...), s.completedFrameworks...) {
			if id := q.Get("framework_id"); id != "" && f.info.GetId().GetValue() != id {
				continue
			}
			for _, t := range append(f.tasks[:len(f.tasks):len(f.tasks)], f.completedTasks...) {
				if id := q.Get("task_id"); id != "" && t.GetTaskId().GetValue() != id {
					continue
				}
				tasks = append(tasks, model.Task(t))
			}
		}
		sort.Slice(tasks, func(i, j int) bool {
			a, b := tasks[i]["id"].(string), tasks[j]["id"].(string)
			if order == "des" {
				return a > b
			}
			return a < b
		})
		if offset > len(tasks) {
			offset = len(tasks)
		}
		tasks = tasks[offset:]
		if limit < len(tasks) {
			tasks = tasks[:limit]
		}
		if tasks == nil {
			tasks = []map[string]any{}
		}
		return map[string]any{"tasks": tasks}
	})
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
	m.withSnapshot(w, r, func(s *stateSnapshot) any {
		counts := func(dst map[string]any) {
			for _, st := range []string{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
				"TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"} {
				dst[st] = 0
			}
		}
		agentFws := map[string]map[string]bool{}
		agentCounts := map[string]map[string]any{}
		frameworks := []any{}
		for _, f := range s.frameworks {
			fm := f.model(false)
			counts(fm)
			agents := map[string]bool{}
			for _, t := range append(f.tasks[:len(f.tasks):len(f.tasks)], f.completedTasks...) {
				st := t.GetState().String()
				fm[st] = fm[st].(int) + 1
				aid := t.GetAgentId().GetValue()
				agents[aid] = true
				if agentFws[aid] == nil {
					agentFws[aid], agentCounts[aid] = map[string]bool{}, map[string]any{}
					counts(agentCounts[aid])
				}
				agentFws[aid][f.info.GetId().GetValue()] = true
				agentCounts[aid][st] = agentCounts[aid][st].(int) + 1
			}
			ids := []string{}
			for id := range agents {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			fm["slave_ids"] = ids
			frameworks = append(frameworks, fm)
		}
		agents := []any{}
		for _, a := range s.agents {
			am := a.model()
			id := a.info.GetId().GetValue()
			counts(am)
			for k, v := range agentCounts[id] {
				am[k] = v
			}
			ids := []string{}
			for fw := range agentFws[id] {
				ids = append(ids, fw)
			}
			sort.Strings(ids)
			am["framework_ids"] = ids
			agents = append(agents, am)
		}
		return map[string]any{"hostname": s.info.GetHostname(), "cluster": "", "slaves": agents, "frameworks": frameworks}
	})
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
