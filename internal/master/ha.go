package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/registry"
	"github.com/plateau/plateau/internal/zk"
)

// High availability, as Mesos's masters: --peers names a group of masters
// that replicate the registry with Raft and elect one leader. Only the
// leader serves: the others answer the APIs with 307 Temporary Redirect to
// the leader (503 while none is elected) and refuse agents. A master that
// becomes leader recovers the registry (weights, quota, reservations,
// maintenance, frameworks) and waits for agents and schedulers to come
// back; a leader that loses the leadership stops, as Mesos's does, and is
// restarted as a standby.

// ErrLostLeadership ends Run on a master that was leading.
var ErrLostLeadership = errors.New("master: lost the leadership")

// openRaftRegistry joins the group named by --peers.
func (m *Master) openRaftRegistry() error {
	self := net.JoinHostPort(m.info.GetAddress().GetIp(), fmt.Sprint(m.cfg.Port))
	var servers []raft.Server
	found := false
	for _, p := range m.cfg.peers() {
		servers = append(servers, raft.Server{ID: raft.ServerID(p), Address: raft.ServerAddress(raftAddr(p))})
		found = found || p == self
	}
	if !found {
		return fmt.Errorf("master: --peers must include this master's own address %s", self)
	}
	bind := net.JoinHostPort(m.cfg.IP, fmt.Sprint(m.cfg.Port+raftPortOffset))
	advertise, err := net.ResolveTCPAddr("tcp", raftAddr(self))
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{m}})
	transport, err := raft.NewTCPTransportWithLogger(bind, advertise, 3, 10*time.Second, logger)
	if err != nil {
		return fmt.Errorf("master: raft transport on %s: %w", bind, err)
	}
	r, err := registry.NewRaft(registry.RaftConfig{ID: self, Peers: servers, Transport: transport,
		Dir: filepath.Join(m.cfg.WorkDir, "raft"), Logger: logger, Tune: m.tuneRaft})
	if err != nil {
		transport.Close()
		return err
	}
	m.raft, m.registry = r, r
	return nil
}

// tuneRaft is hashicorp/raft's configuration for masters: elections in
// about a second, as a leader lost should be replaced quickly.
func (m *Master) tuneRaft(c *raft.Config) {
	c.HeartbeatTimeout = m.cfg.RaftElectionTimeout
	c.ElectionTimeout = m.cfg.RaftElectionTimeout
	c.LeaderLeaseTimeout = m.cfg.RaftElectionTimeout / 2
}

// followLeadership recovers the registry when this master becomes leader
// and ends Run when it stops being one.
func (m *Master) followLeadership(ctx context.Context, lost chan<- error) {
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-m.raft.LeaderCh():
			if !leader {
				if m.leading.Load() {
					m.log.Error("lost the leadership: stopping, as Mesos's masters do")
					lost <- ErrLostLeadership
					return
				}
				continue
			}
			recovered, err := m.raft.Load()
			if err != nil {
				m.log.Error("recovering the registry as the new leader", "err", err)
				lost <- err
				return
			}
			if err := m.do(ctx, func() {
				m.adopt(recovered)
				m.recoverFrameworks()
				m.expectAgents()
				m.leading.Store(true)
			}); err != nil {
				return
			}
			m.publishLeader(ctx)
			m.log.Info("elected leader", "id", m.info.GetId(), "agents_in_registry", len(recovered.GetAgents()), "frameworks", len(recovered.GetFrameworks()))
		}
	}
}

// adopt takes the registry's durable decisions in. Runs before the loop
// starts, or on it.
func (m *Master) adopt(recovered *plateaupb.Registry) {
	for _, w := range recovered.GetWeights() {
		m.weights[w.GetRole()] = w.GetWeight() // UPDATE_WEIGHTS outlives --weights
	}
	m.alloc.SetWeights(m.weights)
	m.setQuota(recovered.GetQuotas())
	for _, ar := range recovered.GetAgentResources() {
		m.agentResources[ar.GetAgentId().GetValue()] = ar.GetResources()
	}
	m.recovered = recovered
	m.recoverMaintenance(recovered.GetMaintenance())
	for _, r := range recovered.GetUnreachable() {
		m.unreachable[r.GetAgentId().GetValue()] = time.Unix(0, r.GetTime().GetNanoseconds())
	}
	for _, r := range recovered.GetGone() {
		m.gone[r.GetAgentId().GetValue()] = time.Unix(0, r.GetTime().GetNanoseconds())
	}
}

// expectAgents gives the agents the registry knows
// --agent_reregister_timeout to register again; those that do not are
// marked unreachable, as Mesos does after a failover. Runs on the loop.
func (m *Master) expectAgents() {
	ids := make([]string, 0, len(m.recovered.GetAgents()))
	for _, a := range m.recovered.GetAgents() {
		ids = append(ids, a.GetId().GetValue())
	}
	if len(ids) == 0 {
		return
	}
	m.after(m.cfg.AgentReregisterTimeout, func() {
		now := time.Now()
		for _, id := range ids {
			if m.agents[id] != nil || isGone(m.gone, id) {
				continue
			}
			if _, known := m.unreachable[id]; known {
				continue
			}
			m.log.Warn("agent did not register again in time: unreachable", "agent", id, "timeout", m.cfg.AgentReregisterTimeout)
			_ = m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_RemoveAgent{RemoveAgent: &mesos.AgentID{Value: proto.String(id)}}})
			m.markUnreachable(id, now)
		}
	})
}

// leaderHTTP is the leader's host:port, "" when none is known.
func (m *Master) leaderHTTP() string {
	if m.leading.Load() {
		return net.JoinHostPort(m.info.GetAddress().GetIp(), fmt.Sprint(m.info.GetPort()))
	}
	if m.raft == nil {
		return ""
	}
	return httpAddr(m.raft.Leader())
}

// standbyAnswers are the paths a master that does not lead answers itself:
// its health, version and metrics (master/elected is 0).
func standbyAnswers(path string) bool {
	switch path {
	case "/health", "/master/health", "/version", "/metrics", "/metrics/snapshot",
		"/master/state", "/master/state.json", "/state", "/state.json": // a standby's state says who leads
		return true
	}
	return false
}

// redirectToLeader is what a standby does with the rest: 307 to the
// leader, or 503 while there is none, as Mesos's standbys.
func (m *Master) redirectToLeader(w http.ResponseWriter, r *http.Request) {
	leader := m.leaderHTTP()
	if leader == "" {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusServiceUnavailable, "No leading master"))
		return
	}
	target := "//" + leader + r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// errNotLeader refuses an agent that registers with a standby.
func (m *Master) errNotLeader() error {
	if l := m.leaderHTTP(); l != "" {
		return fmt.Errorf("not the leading master; the leader is %s", l)
	}
	return errors.New("not the leading master; no leader is elected")
}

// slogWriter passes Raft's log lines to the master's logger.
type slogWriter struct{ m *Master }

func (s slogWriter) Write(b []byte) (int, error) {
	s.m.log.Warn(strings.TrimSpace(string(b)), "component", "raft")
	return len(b), nil
}

// publishLeader announces this master as the leader in ZooKeeper
// (--zk), for tools that find the Mesos leader there. ZooKeeper may not be
// reachable yet: it keeps trying, in the background, until ctx ends.
func (m *Master) publishLeader(ctx context.Context) {
	if m.cfg.ZK == "" {
		return
	}
	go func() {
		for {
			p, err := zk.Publish(m.cfg.ZK, m.info, m.log)
			if err == nil {
				m.zkMu.Lock()
				m.zkPublisher = p
				m.zkMu.Unlock()
				return
			}
			m.log.Warn("cannot publish the leader in ZooKeeper yet", "zk", m.cfg.ZK, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}
