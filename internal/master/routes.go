package master

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/plateau/plateau/internal/ui"
	"github.com/plateau/plateau/internal/version"
)

// routes is the master's HTTP surface. gRPC requests from agents arrive on
// the same port over HTTP/2 and are handed to the gRPC server.
func (m *Master) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", m.serveScheduler)
	mux.HandleFunc("/api/v1", m.serveOperator)
	for _, p := range []string{"/master/state", "/master/state.json", "/state", "/state.json"} {
		mux.HandleFunc("GET "+p, m.serveState)
	}
	for _, p := range []string{"/health", "/master/health"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	mux.HandleFunc("GET /version", serveVersion)
	mux.HandleFunc("GET /master/redirect", m.serveRedirect)
	for path, h := range map[string]http.HandlerFunc{
		"/master/state-summary": m.serveStateSummary,
		"/master/frameworks":    m.serveFrameworks,
		"/master/slaves":        m.serveSlaves,
		"/master/tasks":         m.serveTasks,
		"/master/roles":         m.serveRoles,
		"/master/weights":       m.serveWeights,
		"/master/flags":         m.serveFlags,
		"/master/quota":         m.serveQuota,
	} {
		mux.HandleFunc("GET "+path, h)
		mux.HandleFunc("GET "+path+".json", h)
	}
	mux.HandleFunc("/master/teardown", m.serveTeardown)
	mux.HandleFunc("/master/maintenance/schedule", m.serveSchedule)
	mux.HandleFunc("GET /master/maintenance/status", m.serveMaintenanceStatus)
	mux.HandleFunc("/master/machine/down", m.serveMachines(true))
	mux.HandleFunc("/master/machine/up", m.serveMachines(false))
	mux.HandleFunc("GET /metrics/snapshot", m.serveMetricsSnapshot)
	mux.HandleFunc("GET /agents/{id}/files/{op}", m.serveAgentFiles)
	mux.Handle("GET /{$}", ui.Handler())
	mux.Handle("GET /static/", ui.Handler())
	m.files.Register(mux)
	mux.Handle("GET /metrics", m.prom.handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			m.grpc.ServeHTTP(w, r)
			return
		}
		if !m.leading.Load() && !standbyAnswers(r.URL.Path) {
			m.redirectToLeader(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// serveVersion is /version in Mesos's layout, plus Plateau's own version.
func serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, map[string]any{
		"version":         version.MesosVersion,
		"plateau_version": version.Version,
		"build_date":      "",
		"build_time":      0,
		"build_user":      "",
	})
}

// serveRedirect is /master/redirect: a 307 to the leading master, which
// for a single master is itself.
func (m *Master) serveRedirect(w http.ResponseWriter, r *http.Request) {
	addr := m.info.GetAddress()
	w.Header().Set("Location", fmt.Sprintf("//%s:%d", addr.GetIp(), addr.GetPort()))
	w.WriteHeader(http.StatusTemporaryRedirect)
}
