package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/plateau/plateau/internal/master"
)

// Masters is a highly available group of masters in this process, each
// on its own port (and Raft on port + 2), replicating their registry.
type Masters struct {
	Addrs   []string
	cfgs    []master.Config
	log     *slog.Logger
	cancels []context.CancelFunc
	done    []chan struct{}
}

// StartMasters starts n masters that name each other as --peers, with
// their work dirs under dir; tune adjusts their configuration.
func StartMasters(n int, dir string, electionTimeout time.Duration, log *slog.Logger, tune ...func(*master.Config)) (*Masters, error) {
	h := &Masters{}
	for range n {
		addr, err := portPair()
		if err != nil {
			return nil, err
		}
		h.Addrs = append(h.Addrs, addr)
	}
	h.log = log
	h.cancels, h.done = make([]context.CancelFunc, n), make([]chan struct{}, n)
	for i, addr := range h.Addrs {
		cfg := master.DefaultConfig()
		host, port, _ := net.SplitHostPort(addr)
		cfg.IP = host
		fmt.Sscan(port, &cfg.Port)
		cfg.WorkDir = filepath.Join(dir, fmt.Sprint("master-", i))
		cfg.Peers, cfg.Quorum = strings.Join(h.Addrs, ","), n/2+1
		cfg.AllocationInterval = 100 * time.Millisecond
		if electionTimeout > 0 {
			cfg.RaftElectionTimeout = electionTimeout
		}
		for _, f := range tune {
			f(&cfg)
		}
		h.cfgs = append(h.cfgs, cfg)
	}
	for i := range h.Addrs {
		if err := h.Start(i); err != nil {
			h.Stop()
			return nil, err
		}
	}
	return h, nil
}

// Start starts master i (again, from its work dir, after Kill).
func (h *Masters) Start(i int) error {
	if h.cancels[i] != nil {
		return nil
	}
	m, err := master.New(h.cfgs[i], master.WithLogger(h.log.With("master", i)))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	h.cancels[i], h.done[i] = cancel, done
	return nil
}

// Running reports whether master i runs (a leader that lost the
// leadership stops by itself).
func (h *Masters) Running(i int) bool {
	if h.cancels[i] == nil {
		return false
	}
	select {
	case <-h.done[i]:
		h.cancels[i]()
		h.cancels[i] = nil
		return false
	default:
		return true
	}
}

// Kill stops master i as if its process died.
func (h *Masters) Kill(i int) {
	if h.cancels[i] != nil {
		h.cancels[i]()
		<-h.done[i]
		h.cancels[i] = nil
	}
}

// Stop stops every master.
func (h *Masters) Stop() {
	for i := range h.cancels {
		h.Kill(i)
	}
}

// Leader waits until one of the running masters leads (serves, its
// registry recovered) and returns it.
func (h *Masters) Leader(ctx context.Context) (int, error) {
	for {
		for i, a := range h.Addrs {
			if h.cancels[i] != nil && Metrics(a)["master/elected"] == 1 {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no leading master: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Metrics reads a master's /metrics/snapshot (nil when it does not
// answer).
func Metrics(addr string) map[string]float64 {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics/snapshot")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]float64
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

// portPair finds a free port p with p + 2 (its Raft port) free too.
func portPair() (string, error) {
	for range 100 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+2))
		a.Close()
		if err == nil {
			b.Close()
			return fmt.Sprintf("127.0.0.1:%d", p), nil
		}
	}
	return "", fmt.Errorf("no free port with its port + 2 free")
}
