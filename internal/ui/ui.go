// Package ui is the web UI every master serves at /: one page, its
// script and its style, embedded in the binary (no CDN, works offline).
// The page reads the operator API: GET_STATE once, then the SUBSCRIBE
// event stream keeps it live; roles, quota and maintenance are read again
// when an event says the cluster changed. A task's sandbox is read
// through the master (/agents/ID/files/...), which relays to its agent.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page at / and its assets under /static/.
func Handler() http.Handler {
	files, _ := fs.Sub(static, "static")
	assets := http.StripPrefix("/static/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, files, "index.html")
			return
		}
		assets.ServeHTTP(w, r)
	})
}
