package master

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkState renders /master/state for 10,000 agents and 100,000
// tasks (the operators' view issue's size).
func BenchmarkState(b *testing.B) {
	m := emulatedMaster(b, 10000, 100, 100000)
	b.ResetTimer()
	for b.Loop() {
		w := &countingWriter{header: http.Header{}}
		m.serveState(w, httptest.NewRequest("GET", "/master/state", nil))
		if w.code != 0 || w.n < 1<<20 {
			b.Fatalf("/master/state: status %d, %d bytes", w.code, w.n)
		}
	}
}

// BenchmarkStateFirst renders /master/state with nothing cached, as the
// first render after a master starts does.
func BenchmarkStateFirst(b *testing.B) {
	m := emulatedMaster(b, 10000, 100, 100000)
	b.ResetTimer()
	for b.Loop() {
		m.stateJSON.parts = nil
		w := &countingWriter{header: http.Header{}}
		m.serveState(w, httptest.NewRequest("GET", "/master/state", nil))
		if w.code != 0 || w.n < 1<<20 {
			b.Fatalf("/master/state: status %d, %d bytes", w.code, w.n)
		}
	}
}

// emulatedMaster runs a master filled with emulated agents, frameworks
// and running tasks until the test ends.
func emulatedMaster(tb testing.TB, agents, frameworks, tasks int) *Master {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.IP, cfg.Port = "127.0.0.1", 0
	m, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go m.Run(ctx)
	if err := m.EmulateLoad(ctx, agents, frameworks, tasks); err != nil {
		tb.Fatal(err)
	}
	return m
}

// countingWriter is a ResponseWriter that only counts, as a socket to a
// fast client would take the bytes.
type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(code int)        { w.code = code }
func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkStateSnapshot is the loop's share of a /master/state render at
// the operators' view issue's size: the snapshot it hands over.
func BenchmarkStateSnapshot(b *testing.B) {
	m := emulatedMaster(b, 10000, 100, 100000)
	if err := m.do(context.Background(), func() { m.snapshot() }); err != nil { // lists built once
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		var s *stateSnapshot
		if err := m.do(context.Background(), func() { s = m.snapshot() }); err != nil {
			b.Fatal(err)
		}
		if len(s.agents) != 10000 {
			b.Fatalf("%d agents in the snapshot", len(s.agents))
		}
	}
}
