package files

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func newServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stdout"), []byte("hello world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var s Server
	s.Attach("/sandbox/run", dir)
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, dir
}

func get(t *testing.T, srv *httptest.Server, endpoint string, q url.Values) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + endpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestRead(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name       string
		q          url.Values
		wantStatus int
		wantData   string
		wantOffset int64
	}{
		{"whole file", url.Values{"path": {"/sandbox/run/stdout"}, "offset": {"0"}}, 200, "hello world\n", 0},
		{"slice", url.Values{"path": {"/sandbox/run/stdout"}, "offset": {"6"}, "length": {"5"}}, 200, "world", 6},
		{"size only", url.Values{"path": {"/sandbox/run/stdout"}, "offset": {"-1"}}, 200, "", 12},
		{"past the end", url.Values{"path": {"/sandbox/run/stdout"}, "offset": {"100"}}, 200, "", 12},
		{"missing file", url.Values{"path": {"/sandbox/run/nope"}, "offset": {"0"}}, 404, "", 0},
		{"unattached", url.Values{"path": {"/etc/passwd"}, "offset": {"0"}}, 404, "", 0},
		{"dot dot", url.Values{"path": {"/sandbox/run/../../etc/passwd"}, "offset": {"0"}}, 404, "", 0},
		{"symlink out", url.Values{"path": {"/sandbox/run/link"}, "offset": {"0"}}, 403, "", 0},
		{"bad offset", url.Values{"path": {"/sandbox/run/stdout"}, "offset": {"x"}}, 400, "", 0},
		{"no path", url.Values{}, 400, "", 0},
		{"directory", url.Values{"path": {"/sandbox/run/sub"}, "offset": {"0"}}, 400, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, srv, "/files/read", tt.q)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", status, tt.wantStatus, body)
			}
			if status != 200 {
				return
			}
			var got struct {
				Data   string `json:"data"`
				Offset int64  `json:"offset"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Data != tt.wantData || got.Offset != tt.wantOffset {
				t.Fatalf("got %+v, want data %q offset %d", got, tt.wantData, tt.wantOffset)
			}
		})
	}
}

func TestBrowseAndDownload(t *testing.T) {
	srv, _ := newServer(t)
	status, body := get(t, srv, "/files/browse", url.Values{"path": {"/sandbox/run"}})
	if status != 200 {
		t.Fatalf("browse: %d %s", status, body)
	}
	var list []FileInfo
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range list {
		paths = append(paths, f.Path)
	}
	want := []string{"/sandbox/run/link", "/sandbox/run/stdout", "/sandbox/run/sub"}
	if len(paths) != len(want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	for i := range want {
		if paths[i] != want[i] {
			t.Fatalf("paths %v, want %v", paths, want)
		}
	}
	status, body = get(t, srv, "/files/download", url.Values{"path": {"/sandbox/run/stdout"}})
	if status != 200 || string(body) != "hello world\n" {
		t.Fatalf("download: %d %q", status, body)
	}
}
