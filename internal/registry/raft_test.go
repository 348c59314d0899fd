package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

// group is a Raft group of registries in one process, over Raft's
// in-memory transport, which can cut a member off and heal it.
type group struct {
	t          *testing.T
	members    []*Raft
	transports []*raft.InmemTransport
	addrs      []raft.ServerAddress
	dirs       []string
}

func newGroup(t *testing.T, n int, onDisk bool) *group {
	g := &group{t: t, members: make([]*Raft, n), transports: make([]*raft.InmemTransport, n), addrs: make([]raft.ServerAddress, n), dirs: make([]string, n)}
	for i := range n {
		if onDisk {
			g.dirs[i] = t.TempDir()
		}
	}
	g.start()
	t.Cleanup(g.stop)
	return g
}

// start starts every member (again, from its directory if it has one).
func (g *group) start() {
	n := len(g.members)
	var peers []raft.Server
	for i := range n {
		g.addrs[i], g.transports[i] = raft.NewInmemTransport(raft.ServerAddress(fmt.Sprint("master-", i)))
		peers = append(peers, raft.Server{ID: raft.ServerID(fmt.Sprint("m", i)), Address: g.addrs[i]})
	}
	for i := range n {
		for j := range n {
			if i != j {
				g.transports[i].Connect(g.addrs[j], g.transports[j])
			}
		}
	}
	for i := range n {
		r, err := NewRaft(RaftConfig{ID: fmt.Sprint("m", i), Peers: peers, Transport: g.transports[i], Dir: g.dirs[i], Tune: fast})
		if err != nil {
			g.t.Fatal(err)
		}
		g.members[i] = r
	}
}

func (g *group) stop() {
	for i, m := range g.members {
		if m != nil {
			if err := m.Close(); err != nil {
				g.t.Errorf("closing member %d: %v", i, err)
			}
			g.members[i] = nil
		}
	}
}

// fast makes elections take tens of milliseconds.
func fast(c *raft.Config) {
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// leader waits until exactly one of the given members leads.
func (g *group) leader(among ...int) int {
	g.t.Helper()
	if len(among) == 0 {
		for i := range g.members {
			among = append(among, i)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		found := -1
		for _, i := range among {
			if g.members[i].IsLeader() {
				if found >= 0 {
					found = -2
					break
				}
				found = i
			}
		}
		if found >= 0 {
			return found
		}
	}
	g.t.Fatalf("no single leader among members %v", among)
	return -1
}

// isolate cuts a member off from the others; heal reconnects it.
func (g *group) isolate(i int) {
	g.transports[i].DisconnectAll()
	for j, tr := range g.transports {
		if j != i {
			tr.Disconnect(g.addrs[i])
		}
	}
}

func (g *group) heal(i int) {
	for j, tr := range g.transports {
		if j != i {
			tr.Connect(g.addrs[i], g.transports[i])
			g.transports[i].Connect(g.addrs[j], tr)
		}
	}
}

// converge waits until a member's registry is want.
func (g *group) converge(i int, want *plateaupb.Registry) {
	g.t.Helper()
	var got *plateaupb.Registry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = g.members[i].fsm.copy()
		if proto.Equal(got, want) {
			return
		}
	}
	g.t.Fatalf("member %d has %v\nwant %v", i, got, want)
}

func weightsEntry(role string, w float64) *plateaupb.RegistryEntry {
	return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateWeights{UpdateWeights: &plateaupb.WeightsUpdate{
		Weights: []*mesos.WeightInfo{{Role: proto.String(role), Weight: proto.Float64(w)}}}}}
}

// The leader commits entries; every member applies them in order and
// holds the same registry; the others refuse to apply and name the leader.
func TestRaftReplicates(t *testing.T) {
	g := newGroup(t, 3, false)
	l := g.leader()
	var want plateaupb.Registry
	for _, e := range entries() {
		if err := g.members[l].Apply(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		Apply(&want, e)
	}
	for i := range g.members {
		g.converge(i, &want)
	}
	follower := (l + 1) % 3
	var notLeader ErrNotLeader
	if err := g.members[follower].Apply(context.Background(), weightsEntry("x", 2)); !errors.As(err, &notLeader) || notLeader.Leader != string(g.addrs[l]) {
		t.Fatalf("Apply on a follower: %v, want ErrNotLeader naming %s", err, g.addrs[l])
	}
	if got, err := g.members[l].Load(); err != nil || !proto.Equal(got, &want) {
		t.Fatalf("Load on the leader: %v %v", got, err)
	}
}

// The leader is cut off: the two others elect a new leader, which has
// every entry the old one acknowledged and takes new ones; the old leader
// cannot commit alone; healed, it catches up.
func TestRaftPartition(t *testing.T) {
	g := newGroup(t, 3, false)
	old := g.leader()
	if err := g.members[old].Apply(context.Background(), weightsEntry("before", 1)); err != nil {
		t.Fatal(err)
	}
	g.isolate(old)
	var rest []int
	for i := range g.members {
		if i != old {
			rest = append(rest, i)
		}
	}
	l := g.leader(rest...)
	if err := g.members[l].Apply(context.Background(), weightsEntry("after", 2)); err != nil {
		t.Fatalf("the new leader: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := g.members[old].Apply(ctx, weightsEntry("lost", 3)); err == nil {
		t.Fatal("the cut-off leader committed an entry alone")
	}
	var want plateaupb.Registry
	Apply(&want, weightsEntry("before", 1))
	Apply(&want, weightsEntry("after", 2))
	g.converge(l, &want)
	g.heal(old)
	for i := range g.members {
		g.converge(i, &want)
	}
}

// Members restarted from their directories (log, stable store, a
// snapshot) hold the registry they had.
func TestRaftRestartFromDisk(t *testing.T) {
	g := newGroup(t, 3, true)
	l := g.leader()
	var want plateaupb.Registry
	for i, e := range entries() {
		if err := g.members[l].Apply(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		Apply(&want, e)
		if i == 5 {
			if err := g.members[l].Snapshot(); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
		}
	}
	for i := range g.members {
		g.converge(i, &want)
	}
	if snaps, _ := filepath.Glob(filepath.Join(g.dirs[l], "snapshots", "*")); len(snaps) == 0 {
		t.Fatalf("no snapshot persisted in %s", g.dirs[l])
	}
	g.stop()
	g.start()
	l = g.leader()
	got, err := g.members[l].Load()
	if err != nil || !proto.Equal(got, &want) {
		t.Fatalf("after a restart of every member: %v %v\nwant %v", got, err, &want)
	}
	for i := range g.members {
		g.converge(i, &want)
	}
}
