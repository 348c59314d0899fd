package master

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/plateau/plateau/internal/httpapi"
)

// serveAgentFiles is GET /agents/{id}/files/{op} (browse, read,
// download): the master relays a sandbox read to the agent that has it,
// so that the web UI, served by the master, can show a task's files and
// output without talking to agents itself.
func (m *Master) serveAgentFiles(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	switch op {
	case "browse", "read", "download", "browse.json", "read.json", "download.json":
	default:
		http.NotFound(w, r)
		return
	}
	var endpoint string
	if err := m.do(r.Context(), func() {
		if a := m.agents[r.PathValue("id")]; a != nil {
			endpoint = a.endpoint
		}
	}); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if endpoint == "" {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusNotFound, "Agent %s not found", r.PathValue("id")))
		return
	}
	target := &url.URL{Scheme: "http", Host: endpoint}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.URL.Path = "/files/" + op
		pr.Out.URL.RawPath = ""
	}}
	proxy.ServeHTTP(w, r)
}
