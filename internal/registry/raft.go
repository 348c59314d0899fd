package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/plateaupb"
)

// Raft is a Store replicated by a Raft group of masters, as Mesos's
// replicated log replicates its registry. Apply commits an entry to a
// quorum before it returns; every member applies the committed entries,
// in order, to its own copy of the registry with Apply, the deterministic
// state machine. Only the leader can apply entries (ErrNotLeader tells
// the others who leads). hashicorp/raft keeps the log and the snapshots;
// raft-boltdb stores the log in the master's work dir.
//
// (hashicorp/raft v1.7.3: v1.8.0 needs a go-metrics without the compat
// package that raft-boltdb v2.3.1 imports.)
type Raft struct {
	raft    *raft.Raft
	fsm     *fsm
	closers []io.Closer
	// Timeout bounds a commit (default 10 s).
	Timeout time.Duration
}

// RaftConfig describes a member of the group.
type RaftConfig struct {
	// ID names this member; Peers name all of them (this one included)
	// with their Raft addresses, and bootstrap the group the first time.
	ID    string
	Peers []raft.Server
	// Transport carries Raft's messages (raft.NewTCPTransport between
	// hosts, raft.NewInmemTransport in tests).
	Transport raft.Transport
	// Dir keeps the log, the stable store and the snapshots; empty keeps
	// them in memory.
	Dir string
	// Tune adjusts Raft's configuration (timeouts in tests).
	Tune   func(*raft.Config)
	Logger hclog.Logger
}

// ErrNotLeader is returned by Apply on a member that does not lead.
type ErrNotLeader struct{ Leader string }

func (e ErrNotLeader) Error() string {
	if e.Leader == "" {
		return "registry: not the leader, and no leader is known"
	}
	return "registry: not the leader; the leader is " + e.Leader
}

// NewRaft starts a member.
func NewRaft(cfg RaftConfig) (*Raft, error) {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.ID)
	conf.Logger = cfg.Logger
	if conf.Logger == nil {
		conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	}
	if cfg.Tune != nil {
		cfg.Tune(conf)
	}
	r := &Raft{fsm: &fsm{reg: &plateaupb.Registry{}}, Timeout: 10 * time.Second}
	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	if cfg.Dir == "" {
		store := raft.NewInmemStore()
		logs, stable, snaps = store, store, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		bolt, err := raftboltdb.NewBoltStore(filepath.Join(cfg.Dir, "raft.db"))
		if err != nil {
			return nil, fmt.Errorf("registry: raft log: %w", err)
		}
		r.closers = append(r.closers, bolt)
		logs, stable = bolt, bolt
		if snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, conf.Logger); err != nil {
			bolt.Close()
			return nil, fmt.Errorf("registry: raft snapshots: %w", err)
		}
	}
	known, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	if !known {
		if err := raft.BootstrapCluster(conf, logs, stable, snaps, cfg.Transport, raft.Configuration{Servers: cfg.Peers}); err != nil {
			r.close()
			return nil, fmt.Errorf("registry: bootstrapping the raft group: %w", err)
		}
	}
	if r.raft, err = raft.NewRaft(conf, r.fsm, logs, stable, snaps, cfg.Transport); err != nil {
		r.close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	return r, nil
}

// Apply commits an entry to a quorum of the group.
func (r *Raft) Apply(ctx context.Context, e *plateaupb.RegistryEntry) error {
	if r.raft.State() != raft.Leader {
		return ErrNotLeader{Leader: r.Leader()}
	}
	b, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	timeout := r.Timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	f := r.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ErrNotLeader{Leader: r.Leader()}
		}
		return fmt.Errorf("registry: %w", err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// Load returns this member's copy of the registry, after the entries the
// group committed before it became leader when it leads.
func (r *Raft) Load() (*plateaupb.Registry, error) {
	if r.raft.State() == raft.Leader {
		if err := r.raft.Barrier(r.Timeout).Error(); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	return r.fsm.copy(), nil
}

// Leader is the leader's Raft address, "" when none is known.
func (r *Raft) Leader() string {
	addr, _ := r.raft.LeaderWithID()
	return string(addr)
}

// IsLeader reports whether this member leads.
func (r *Raft) IsLeader() bool { return r.raft.State() == raft.Leader }

// LeaderCh tells when this member gains (true) or loses (false) the
// leadership.
func (r *Raft) LeaderCh() <-chan bool { return r.raft.LeaderCh() }

// Snapshot compacts the log now (Raft also does on its own).
func (r *Raft) Snapshot() error { return r.raft.Snapshot().Error() }

// Close stops the member.
func (r *Raft) Close() error {
	err := r.raft.Shutdown().Error()
	return errors.Join(err, r.close())
}

func (r *Raft) close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// fsm is the registry as Raft's state machine.
type fsm struct {
	mu  sync.Mutex
	reg *plateaupb.Registry
}

func (f *fsm) Apply(l *raft.Log) any {
	e := &plateaupb.RegistryEntry{}
	if err := proto.Unmarshal(l.Data, e); err != nil {
		return fmt.Errorf("registry: a corrupt entry at index %d: %w", l.Index, err)
	}
	f.mu.Lock()
	Apply(f.reg, e)
	f.mu.Unlock()
	return nil
}

func (f *fsm) copy() *plateaupb.Registry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.reg).(*plateaupb.Registry)
}

// Snapshot captures the registry; it is written out later, off Raft's
// critical path.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	b, err := proto.Marshal(f.copy())
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore replaces the registry with a snapshot's. Raft never runs it
// concurrently with Apply.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	reg := &plateaupb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		return fmt.Errorf("registry: a corrupt snapshot: %w", err)
	}
	f.mu.Lock()
	f.reg = reg
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}
