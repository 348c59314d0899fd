package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Files reads sandbox files through an agent's /files API.
type Files struct {
	// Agent is the agent's host:port.
	Agent string
	HTTP  *http.Client
}

// SandboxPath is the virtual path of an executor's latest sandbox, as
// Mesos agents serve it.
func SandboxPath(frameworkID, executorID string) string {
	return fmt.Sprintf("/frameworks/%s/executors/%s/runs/latest", frameworkID, executorID)
}

// Read returns up to length bytes of the file at path from offset, and the
// offset they start at. ErrNotFound tells a file that does not exist (yet).
func (f *Files) Read(ctx context.Context, path string, offset, length int64) ([]byte, int64, error) {
	q := url.Values{"path": {path}, "offset": {fmt.Sprint(offset)}, "length": {fmt.Sprint(length)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.Agent+"/files/read?"+q.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, responseError(resp)
	}
	var out struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, 0, err
	}
	return []byte(out.Data), out.Offset, nil
}

// Entry is a file in /files/browse.
type Entry struct {
	Path  string  `json:"path"`
	Size  int64   `json:"size"`
	Mtime float64 `json:"mtime"`
	Mode  string  `json:"mode"`
}

// Browse lists a sandbox directory.
func (f *Files) Browse(ctx context.Context, path string) ([]Entry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.Agent+"/files/browse?"+url.Values{"path": {path}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(resp)
	}
	var out []Entry
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
