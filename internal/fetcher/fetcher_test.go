package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestFetch(t *testing.T) {
	blobs := map[string][]byte{
		"/script.sh":   []byte("#!/bin/sh\necho hi\n"),
		"/app.tar.gz":  tarGz(t, map[string]string{"app/run": "run", "app/conf": "conf"}),
		"/site.zip":    zipBytes(t, map[string]string{"index.html": "<html>"}),
		"/evil.tar.gz": tarGz(t, map[string]string{"../../escape": "x"}),
		"/evil.zip":    zipBytes(t, map[string]string{"../escape": "x"}),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := blobs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "local.txt")
	os.WriteFile(local, []byte("local"), 0o644)

	tests := []struct {
		name    string
		uri     URI
		check   map[string]string // sandbox-relative path -> content
		exec    string
		wantErr string
	}{
		{name: "http", uri: URI{Value: srv.URL + "/script.sh"}, check: map[string]string{"script.sh": "#!/bin/sh\necho hi\n"}},
		{name: "executable", uri: URI{Value: srv.URL + "/script.sh", Executable: true}, exec: "script.sh"},
		{name: "output file", uri: URI{Value: srv.URL + "/script.sh", OutputFile: "bin/start"}, check: map[string]string{"bin/start": "#!/bin/sh\necho hi\n"}},
		{name: "tar.gz extracted", uri: URI{Value: srv.URL + "/app.tar.gz", Extract: true}, check: map[string]string{"app/run": "run", "app/conf": "conf"}},
		{name: "zip extracted", uri: URI{Value: srv.URL + "/site.zip", Extract: true}, check: map[string]string{"index.html": "<html>"}},
		{name: "not extracted", uri: URI{Value: srv.URL + "/site.zip"}, check: map[string]string{"site.zip": string(blobs["/site.zip"])}},
		{name: "local path", uri: URI{Value: local}, check: map[string]string{"local.txt": "local"}},
		{name: "file scheme", uri: URI{Value: "file://" + local}, check: map[string]string{"local.txt": "local"}},
		{name: "404", uri: URI{Value: srv.URL + "/nope"}, wantErr: "404"},
		{name: "missing local", uri: URI{Value: "/does/not/exist"}, wantErr: "no such file"},
		{name: "relative without home", uri: URI{Value: "rel/path"}, wantErr: "frameworks_home"},
		{name: "bad scheme", uri: URI{Value: "gopher://x/y"}, wantErr: "unsupported scheme"},
		{name: "output escapes", uri: URI{Value: srv.URL + "/script.sh", OutputFile: "../../x"}, wantErr: "escapes"},
		{name: "tar slip", uri: URI{Value: srv.URL + "/evil.tar.gz", Extract: true}, wantErr: "escapes"},
		{name: "zip slip", uri: URI{Value: srv.URL + "/evil.zip", Extract: true}, wantErr: "escapes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox := t.TempDir()
			var f Fetcher
			err := f.Fetch(context.Background(), []URI{tt.uri}, sandbox)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.uri.Value) {
					t.Fatalf("error %v, want one naming the URI and mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for rel, want := range tt.check {
				got, err := os.ReadFile(filepath.Join(sandbox, rel))
				if err != nil || string(got) != want {
					t.Fatalf("%s = %q, %v; want %q", rel, got, err, want)
				}
			}
			if tt.exec != "" {
				fi, err := os.Stat(filepath.Join(sandbox, tt.exec))
				if err != nil || fi.Mode().Perm()&0o111 == 0 {
					t.Fatalf("%s not executable: %v %v", tt.exec, fi, err)
				}
			}
		})
	}
}

func TestCacheFetchesOnceAndEvicts(t *testing.T) {
	var mu sync.Mutex
	downloads := map[string]int{}
	count := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return downloads[path]
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		downloads[r.URL.Path]++
		mu.Unlock()
		w.Write(bytes.Repeat([]byte("x"), 100))
	}))
	defer srv.Close()
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir(), Size: 250}}
	fetch := func(path string) {
		t.Helper()
		sandbox := t.TempDir()
		if err := f.Fetch(context.Background(), []URI{{Value: srv.URL + path, Cache: true}}, sandbox); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(sandbox, filepath.Base(path)))
		if err != nil || len(b) != 100 {
			t.Fatalf("sandbox copy: %d bytes, %v", len(b), err)
		}
	}
	fetch("/a")
	fetch("/a")
	if count("/a") != 1 {
		t.Fatalf("/a downloaded %d times for two tasks, want once", count("/a"))
	}
	fetch("/b")
	fetch("/c") // 300 bytes > 250: /a, the least recently used, goes
	if f.Cache.Len() != 2 {
		t.Fatalf("%d entries cached, want 2 within 250 bytes", f.Cache.Len())
	}
	fetch("/a")
	if count("/a") != 2 {
		t.Fatalf("/a downloaded %d times after eviction, want 2", count("/a"))
	}
	fetch("/c")
	if count("/c") != 1 {
		t.Fatalf("/c downloaded %d times, want once", count("/c"))
	}
}
