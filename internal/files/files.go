// Package files serves sandboxes over HTTP the way Mesos's /files endpoints
// do: directories are attached under virtual paths, and /files/browse,
// /files/read and /files/download resolve requests inside them only.
package files

import (
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/httpapi"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// maxReadLength caps one /files/read answer, as Mesos does (16 pages).
const maxReadLength = 16 * 4096

// Server resolves virtual paths to attached directories. The zero value has
// nothing attached and is ready to use.
type Server struct {
	mu    sync.RWMutex
	roots map[string]string // virtual path -> real directory
}

// Attach makes dir visible under the virtual path virtual.
func (s *Server) Attach(virtual, dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roots == nil {
		s.roots = map[string]string{}
	}
	s.roots[path.Clean("/"+virtual)] = dir
}

// Detach removes a virtual path.
func (s *Server) Detach(virtual string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roots, path.Clean("/"+virtual))
}

var (
	errNotFound  = errors.New("not found")
	errForbidden = errors.New("path escapes the attached directory")
)

// resolve maps a virtual path to a real one, choosing the longest attached
// prefix and refusing anything that would leave it.
func (s *Server) resolve(virtual string) (string, error) {
	if virtual == "" {
		return "", errors.New("expecting 'path' to be present")
	}
	clean := path.Clean("/" + virtual)
	s.mu.RLock()
	defer s.mu.RUnlock()
	best := ""
	for v := range s.roots {
		if (clean == v || strings.HasPrefix(clean, strings.TrimSuffix(v, "/")+"/")) && len(v) > len(best) {
			best = v
		}
	}
	if best == "" {
		return "", errNotFound
	}
	root := s.roots[best]
	rest := strings.TrimPrefix(clean, best)
	real := filepath.Join(root, filepath.FromSlash(rest))
	if resolved, err := filepath.EvalSymlinks(real); err == nil {
		rootResolved, _ := filepath.EvalSymlinks(root)
		if rootResolved == "" {
			rootResolved = root
		}
		if resolved != rootResolved && !strings.HasPrefix(resolved, rootResolved+string(filepath.Separator)) {
			return "", errForbidden
		}
	}
	return real, nil
}

// Register adds the /files endpoints to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /files/browse", s.browse)
	mux.HandleFunc("GET /files/browse.json", s.browse)
	mux.HandleFunc("GET /files/read", s.read)
	mux.HandleFunc("GET /files/read.json", s.read)
	mux.HandleFunc("GET /files/download", s.download)
	mux.HandleFunc("GET /files/download.json", s.download)
	mux.HandleFunc("GET /files/debug", s.debug)
	mux.HandleFunc("GET /files/debug.json", s.debug)
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, fs.ErrNotExist):
		http.Error(w, "Path not found: "+err.Error(), http.StatusNotFound)
	case errors.Is(err, errForbidden):
		http.Error(w, err.Error(), http.StatusForbidden)
	default:
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// FileInfo is Mesos's JSON model of a file in /files/browse.
type FileInfo struct {
	Path  string  `json:"path"`
	Nlink uint64  `json:"nlink"`
	Size  int64   `json:"size"`
	Mtime float64 `json:"mtime"`
	Mode  string  `json:"mode"`
	UID   string  `json:"uid"`
	GID   string  `json:"gid"`
	// StMode is the file's st_mode, for the operator API's FileInfo.
	StMode uint32 `json:"-"`
}

func fileInfo(virtual string, fi os.FileInfo) FileInfo {
	info := FileInfo{Path: virtual, Size: fi.Size(), Mtime: float64(fi.ModTime().Unix()), Mode: fi.Mode().String()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.Nlink = uint64(st.Nlink)
		info.StMode = st.Mode
		info.UID = strconv.Itoa(int(st.Uid))
		info.GID = strconv.Itoa(int(st.Gid))
	}
	return info
}

func (s *Server) browse(w http.ResponseWriter, r *http.Request) {
	virtual := r.URL.Query().Get("path")
	real, err := s.resolve(virtual)
	if err != nil {
		writeErr(w, err)
		return
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, fileInfo(path.Join(path.Clean("/"+virtual), e.Name()), fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	writeJSON(w, out)
}

// read is /files/read: {"data": ..., "offset": ...}. offset -1 (or none
// with no length) asks for the file's size only, as tailing clients do.
func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	real, err := s.resolve(q.Get("path"))
	if err != nil {
		writeErr(w, err)
		return
	}
	offset, length := int64(-1), int64(-1)
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil {
			http.Error(w, fmt.Sprintf("Failed to parse offset: %v", err), http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("length"); v != "" {
		if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < -1 {
			http.Error(w, fmt.Sprintf("Failed to parse length: %q", v), http.StatusBadRequest)
			return
		}
	}
	f, err := os.Open(real)
	if err != nil {
		writeErr(w, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeErr(w, err)
		return
	}
	if fi.IsDir() {
		http.Error(w, "Cannot read a directory", http.StatusBadRequest)
		return
	}
	size := fi.Size()
	if offset == -1 {
		writeJSON(w, map[string]any{"data": "", "offset": size})
		return
	}
	if offset < 0 {
		http.Error(w, "Negative offset provided", http.StatusBadRequest)
		return
	}
	if length == -1 || length > maxReadLength {
		length = maxReadLength
	}
	if offset > size {
		offset = size
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		writeErr(w, err)
		return
	}
	writeJSON(w, map[string]any{"data": string(buf[:n]), "offset": offset})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	real, err := s.resolve(r.URL.Query().Get("path"))
	if err != nil {
		writeErr(w, err)
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		writeErr(w, err)
		return
	}
	if fi.IsDir() {
		http.Error(w, "Cannot download a directory", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(real)))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeFile(w, r, real)
}

func (s *Server) debug(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	roots := make(map[string]string, len(s.roots))
	for k, v := range s.roots {
		roots[k] = v
	}
	s.mu.RUnlock()
	writeJSON(w, roots)
}

// List returns the entries of a directory (or the file itself), as the
// operator API's LIST_FILES does.
func (s *Server) List(virtual string) ([]FileInfo, error) {
	real, err := s.resolve(virtual)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotFound, err)
	}
	if !fi.IsDir() {
		return []FileInfo{fileInfo(path.Clean("/"+virtual), fi)}, nil
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			out = append(out, fileInfo(path.Join(path.Clean("/"+virtual), e.Name()), fi))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ReadAt reads up to length bytes (all the rest when length <= 0, at most
// 64 KB) of a file from offset, and returns them with the file's size, as
// the operator API's READ_FILE does.
func (s *Server) ReadAt(virtual string, offset, length int64) ([]byte, int64, error) {
	real, err := s.resolve(virtual)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errNotFound, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fi.IsDir() {
		return nil, 0, errors.New("cannot read a directory")
	}
	size := fi.Size()
	if offset < 0 {
		return nil, 0, errors.New("negative offset")
	}
	if offset > size {
		offset = size
	}
	if length <= 0 || length > maxReadLength {
		length = maxReadLength
	}
	buf := make([]byte, min(length, size-offset))
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return buf[:n], size, nil
}

// Proto is the file as the operator API's mesos.v1.FileInfo.
func (fi FileInfo) Proto() *mesos.FileInfo {
	return &mesos.FileInfo{Path: proto.String(fi.Path), Nlink: proto.Int32(int32(fi.Nlink)), Size: proto.Uint64(uint64(fi.Size)),
		Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(int64(fi.Mtime * 1e9))}, Mode: proto.Uint32(fi.StMode),
		Uid: proto.String(fi.UID), Gid: proto.String(fi.GID)}
}

// StatusError gives List's and ReadAt's errors Mesos's statuses for
// LIST_FILES and READ_FILE: 404 for a path that is not there, 403 outside
// what is attached, 400 otherwise.
func StatusError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNotFound):
		return httpapi.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, errForbidden):
		return httpapi.Errorf(http.StatusForbidden, "%v", err)
	}
	return httpapi.BadRequest("%v", err)
}
