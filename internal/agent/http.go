package agent

import (
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/containerizer"

	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/taskstate"

	"github.com/plateau/plateau/internal/httpapi"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/model"
	"github.com/plateau/plateau/internal/version"
)

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/executor", a.serveExecutor)
	mux.HandleFunc("/api/v1", a.serveOperator)
	for _, p := range []string{"/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"} {
		mux.HandleFunc("GET "+p, a.serveState)
	}
	for _, p := range []string{"/health", "/slave(1)/health"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, map[string]any{"version": version.MesosVersion, "plateau_version": version.Version, "build_date": "", "build_time": 0, "build_user": ""})
	})
	mux.HandleFunc("GET /flags", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, map[string]any{"flags": a.flagMap()})
	})
	mux.HandleFunc("GET /metrics/snapshot", a.serveMetrics)
	mux.HandleFunc("GET /monitor/statistics", a.serveStatistics)
	mux.HandleFunc("GET /monitor/statistics.json", a.serveStatistics)
	a.files.Register(mux)
	return mux
}

// serveState is /state in Mesos's agent layout.
func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	var state map[string]any
	if err := a.do(r.Context(), func() { state = a.stateModel() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, state)
}

// stateModel builds /state on the loop; it is small (one agent's worth).
func (a *Agent) stateModel() map[string]any {
	frameworks := []any{}
	for _, fw := range a.frameworks {
		frameworks = append(frameworks, a.frameworkModel(fw))
	}
	completed := []any{}
	for _, fw := range a.completedFrameworks {
		completed = append(completed, a.frameworkModel(fw))
	}
	attrs := map[string]any{}
	for _, at := range a.info.GetAttributes() {
		attrs[at.GetName()] = model.AttributeValue(at)
	}
	return map[string]any{
		"version":              version.MesosVersion,
		"plateau_version":      version.Version,
		"id":                   a.info.GetId().GetValue(),
		"pid":                  "slave(1)@" + a.endpoint(),
		"hostname":             a.info.GetHostname(),
		"start_time":           model.Seconds(a.start),
		"resources":            model.Resources(a.total),
		"attributes":           attrs,
		"master_hostname":      a.cfg.Master,
		"flags":                a.flagMap(),
		"frameworks":           frameworks,
		"completed_frameworks": completed,
	}
}

func (a *Agent) flagMap() map[string]string {
	c := a.cfg
	return map[string]string{
		"master": c.Master, "ip": c.IP, "port": a.listener.Addr().String(), "hostname": c.Hostname, "work_dir": c.WorkDir,
		"resources": c.Resources, "attributes": c.Attributes,
		"executor_registration_timeout":  c.ExecutorRegistrationTimeout.String(),
		"executor_shutdown_grace_period": c.ExecutorShutdownGracePeriod.String(),
	}
}

func (a *Agent) frameworkModel(fw *framework) map[string]any {
	executors := []any{}
	for _, e := range fw.executors {
		executors = append(executors, executorModel(e))
	}
	completed := []any{}
	for _, e := range fw.completedExecutors {
		completed = append(completed, executorModel(e))
	}
	i := fw.info
	return map[string]any{
		"id": i.GetId().GetValue(), "name": i.GetName(), "user": i.GetUser(), "role": i.GetRole(),
		"checkpoint": i.GetCheckpoint(), "failover_timeout": i.GetFailoverTimeout(), "hostname": i.GetHostname(),
		"executors": executors, "completed_executors": completed,
	}
}

func executorModel(e *executorRun) map[string]any {
	tasks, queued, completed := []any{}, []any{}, []any{}
	var used []*mesos.Resource
	for _, t := range e.tasks {
		tasks = append(tasks, model.Task(t))
		used = append(used, t.GetResources()...)
	}
	for _, t := range e.queued {
		queued = append(queued, map[string]any{"id": t.GetTaskId().GetValue(), "name": t.GetName(), "resources": model.Resources(t.GetResources())})
	}
	for _, t := range e.completed {
		completed = append(completed, model.Task(t))
	}
	return map[string]any{
		"id": e.info.GetExecutorId().GetValue(), "name": e.info.GetName(), "source": e.info.GetSource(),
		"container": e.containerID, "directory": e.directory, "type": e.info.GetType().String(),
		"resources": model.Resources(append(used, e.info.GetResources()...)),
		"tasks":     tasks, "queued_tasks": queued, "completed_tasks": completed,
	}
}

// serveMetrics is /metrics/snapshot with Mesos's agent metric names.
func (a *Agent) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var out map[string]float64
	if err := a.do(r.Context(), func() { out = a.metrics() }); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, out)
}

func (a *Agent) metrics() map[string]float64 {
	registered := 0.0
	if a.link != nil {
		registered = 1
	}
	out := map[string]float64{
		"slave/registered":        registered,
		"slave/uptime_secs":       time.Since(a.start).Seconds(),
		"slave/frameworks_active": float64(len(a.frameworks)),
	}
	var used resources.Resources
	executors := 0.0
	states := map[mesos.TaskState]float64{}
	for _, fw := range a.frameworks {
		for _, e := range fw.executors {
			if !e.terminated {
				executors++
			}
			used = used.Add(e.info.GetResources())
			for _, t := range e.tasks {
				states[t.GetState()]++
				if !taskstate.IsTerminal(t.GetState()) {
					used = used.Add(t.GetResources())
				}
			}
			states[mesos.TaskState_TASK_STAGING] += float64(len(e.queued))
		}
	}
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		t, u := a.total.Scalar(name), used.Scalar(name)
		out["slave/"+name+"_total"], out["slave/"+name+"_used"], out["slave/"+name+"_percent"] = t, u, 0
		if t > 0 {
			out["slave/"+name+"_percent"] = u / t
		}
	}
	out["slave/executors_running"] = executors
	for _, s := range []mesos.TaskState{mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING,
		mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_KILLING} {
		out["slave/tasks_"+strings.ToLower(strings.TrimPrefix(s.String(), "TASK_"))] = states[s]
	}
	return out
}

// serveStatistics is /monitor/statistics: each running executor's
// container usage, in Mesos's layout. The cgroup files are read off the
// loop.
func (a *Agent) serveStatistics(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		info      *mesos.ExecutorInfo
		framework string
		container containerizer.Container
		disk      *mesos.ResourceStatistics // disk/du's figures
	}
	var entries []entry
	if err := a.do(r.Context(), func() {
		for _, fw := range a.frameworks {
			for _, e := range fw.executors {
				if e.container != nil && !e.terminated {
					var disk *mesos.ResourceStatistics
					if hasIsolator(a.cfg.Isolation, IsolatorDiskDu) {
						disk = &mesos.ResourceStatistics{DiskUsedBytes: proto.Uint64(uint64(e.diskUsedBytes)),
							DiskLimitBytes: proto.Uint64(uint64(e.diskLimitMB() * 1024 * 1024))}
					}
					entries = append(entries, entry{e.info, e.frameworkID, e.container, disk})
				}
			}
		}
	}); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	out := []any{}
	for _, e := range entries {
		st := &mesos.ResourceStatistics{Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9)}
		if m, ok := e.container.(containerizer.Measured); ok {
			if u, err := m.Usage(); err == nil {
				st = u
			}
		} else if e.disk == nil {
			continue
		}
		if e.disk != nil {
			st.DiskUsedBytes, st.DiskLimitBytes = e.disk.DiskUsedBytes, e.disk.DiskLimitBytes
		}
		out = append(out, map[string]any{
			"executor_id": e.info.GetExecutorId().GetValue(), "executor_name": e.info.GetName(),
			"framework_id": e.framework, "source": e.info.GetSource(), "statistics": model.Proto(st),
		})
	}
	httpapi.WriteJSON(w, out)
}
