// Package master is Plateau's Mesos master: it admits agents, subscribes
// frameworks over the v1 scheduler API, turns the allocator's decisions into
// offers, launches tasks on agents and relays their status updates.
//
// All of the master's state is owned by one goroutine (run). HTTP and gRPC
// handlers hand it closures through do and post, and wait for the answer
// when they need one; nothing else touches the maps below.
package master

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	"github.com/plateau/plateau/internal/api/mesos/v1/maintenance"
	"github.com/plateau/plateau/internal/files"
	"github.com/plateau/plateau/internal/registry"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/zk"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/queue"

	"github.com/plateau/plateau/internal/actor"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/allocator"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/version"
)

// Master is a running Mesos master.
type Master struct {
	cfg   Config
	log   *slog.Logger
	level *slog.LevelVar // changed by SET_LOGGING_LEVEL
	alloc allocator.Allocator
	info  *mesos.MasterInfo
	start time.Time

	listener net.Listener
	http     *http.Server
	grpc     *grpc.Server

	mailbox *actor.Mailbox // closures run by the loop goroutine

	// Everything below is owned by the loop goroutine.
	frameworks          map[string]*framework
	completedFrameworks []*framework
	agents              map[string]*agent
	unreachable         map[string]time.Time // agent ID -> when it became unreachable
	gone                map[string]time.Time // agents marked gone by the operator
	offers              map[string]*offer
	nextFramework       int
	nextAgent           int
	nextOffer           int
	// Allocation bookkeeping: agents whose resources were freed since the
	// last cycle, and whether a full cycle is due (a framework arrived or
	// revived).
	dirtyAgents map[string]struct{}
	fullCycle   bool
	counts      counters
	registry    registry.Store
	recovered   *plateaupb.Registry // what the registry held at start
	filters     expiries            // refusal filter expiry times
	weights     map[string]float64  // roles' weights other than 1
	quotas      map[string]*quota.QuotaConfig
	// agentResources are agents' dynamic reservations and persistent
	// volumes as the registry holds them, by agent ID.
	agentResources map[string]resources.Resources
	// Maintenance (maintenance.go): the schedule, its machines by key, and
	// the outstanding inverse offers by ID.
	schedule      *maintenance.Schedule
	machines      map[string]*machine
	inverseOffers map[string]*inverseOffer
	// subscribers are the operator API's event streams.
	subscribers    map[int]*queue.Queue[*masterpb.Event]
	nextSubscriber int

	// files serves the master's log (/files, LIST_FILES, READ_FILE).
	files *files.Server
	// stateJSON keeps /master/state's large parts between renders.
	stateJSON stateCache
	// raft is the replicated registry of a highly available group (nil
	// for a master alone); leading says whether this master leads and
	// serves (ha.go).
	raft    *registry.Raft
	leading atomic.Bool
	// zkPublisher keeps the leader's znode (--zk) while it leads.
	zkMu        sync.Mutex
	zkPublisher *zk.Publisher

	// invalidCalls is counted by HTTP handlers, outside the loop.
	invalidCalls atomic.Int64
	prom         *promMetrics
}

// Option customises a Master.
type Option func(*Master)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(m *Master) { m.log = l } }

// WithLogLevel lets the operator API's SET_LOGGING_LEVEL change the
// level of the logger's handler.
func WithLogLevel(l *slog.LevelVar) Option { return func(m *Master) { m.level = l } }

// WithLogFile serves the master's log file at /master/log, as Mesos does
// with --log_dir ("" for none).
func WithLogFile(path string) Option {
	return func(m *Master) {
		if path != "" {
			m.files.Attach("/master/log", path)
		}
	}
}

// WithRegistry replaces the registry (default: a bbolt file in
// --work_dir, or memory without one).
func WithRegistry(r registry.Store) Option { return func(m *Master) { m.registry = r } }

// WithAllocator replaces the default DRF allocator.
func WithAllocator(a allocator.Allocator) Option { return func(m *Master) { m.alloc = a } }

// New validates cfg and binds the master's listener, so that Addr is known
// before Run is called.
func New(cfg Config, opts ...Option) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Master{
		cfg:         cfg,
		log:         slog.Default(),
		mailbox:     actor.New(1024),
		frameworks:  map[string]*framework{},
		agents:      map[string]*agent{},
		unreachable: map[string]time.Time{},
		gone:        map[string]time.Time{},
		offers:      map[string]*offer{},
		dirtyAgents: map[string]struct{}{},
		subscribers: map[int]*queue.Queue[*masterpb.Event]{},
		level:       &slog.LevelVar{},
		start:       time.Now(),
		files:       &files.Server{},
	}
	for _, o := range opts {
		o(m)
	}
	m.weights, _ = parseWeights(cfg.Weights) // validated above
	if m.alloc == nil {
		mins, _ := parseMinAllocatable(cfg.MinAllocatableResources) // validated
		m.alloc = allocator.New(allocator.Options{Weights: m.weights, MinAllocatable: mins})
	}
	m.quotas = map[string]*quota.QuotaConfig{}
	m.agentResources = map[string]resources.Resources{}
	m.machines, m.inverseOffers = map[string]*machine{}, map[string]*inverseOffer{}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("master: listen: %w", err)
	}
	m.listener = ln
	m.info = m.masterInfo(ln.Addr().(*net.TCPAddr).Port)
	switch {
	case m.registry != nil:
	case len(cfg.peers()) > 0:
		if err := m.openRaftRegistry(); err != nil {
			ln.Close()
			return nil, err
		}
	default:
		if err := m.openRegistry(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if m.raft == nil {
		// A master alone leads from the start.
		recovered, err := m.registry.Load()
		if err != nil {
			ln.Close()
			return nil, err
		}
		m.adopt(recovered)
		m.leading.Store(true)
	}
	m.prom = newPromMetrics(m)
	m.grpc = grpc.NewServer()
	plateaupb.RegisterAgentLinkServer(m.grpc, &agentLinkServer{m: m})
	m.http = &http.Server{Handler: m.routes(), ReadHeaderTimeout: 10 * time.Second}
	// Agents speak gRPC (HTTP/2 without TLS) on the same port as the HTTP
	// APIs, as Mesos serves everything on one port.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	m.http.Protocols = &protocols
	// The agents' links are HTTP/2 connections served by net/http (not
	// gRPC's own server, whose keepalives would not apply): HTTP/2 pings
	// find an agent that vanished without closing its connection, as
	// Mesos's master pings its agents.
	m.http.HTTP2 = &http.HTTP2Config{SendPingTimeout: cfg.AgentPingTimeout, PingTimeout: cfg.AgentPingTimeout}
	return m, nil
}

func (m *Master) masterInfo(port int) *mesos.MasterInfo {
	hostname := m.cfg.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	ip := m.cfg.AdvertiseIP
	if ip == "" {
		ip = m.cfg.IP
		if parsed := net.ParseIP(ip); parsed == nil || parsed.IsUnspecified() {
			ip = "127.0.0.1"
		}
	}
	id := uuid.NewString()
	return &mesos.MasterInfo{
		Id:       proto.String(id),
		Ip:       proto.Uint32(ipToUint32(net.ParseIP(ip))),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String(fmt.Sprintf("master@%s:%d", ip, port)),
		Hostname: proto.String(hostname),
		Version:  proto.String(version.MesosVersion), // frameworks check the Mesos version
		Address: &mesos.Address{
			Hostname: proto.String(hostname),
			Ip:       proto.String(ip),
			Port:     proto.Int32(int32(port)),
		},
	}
}

// ipToUint32 packs an IPv4 address the way MasterInfo.ip does (network
// byte order read as a little-endian integer, as Mesos does).
func ipToUint32(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		return 0
	}
	return uint32(v4[0]) | uint32(v4[1])<<8 | uint32(v4[2])<<16 | uint32(v4[3])<<24
}

// Addr is the address the master listens on.
func (m *Master) Addr() string { return m.listener.Addr().String() }

// Info is the MasterInfo the master advertises.
func (m *Master) Info() *mesos.MasterInfo { return m.info }

// Run serves until ctx is cancelled, then stops the HTTP and gRPC servers
// and the state loop.
func (m *Master) Run(ctx context.Context) error {
	m.log.Info("master started", "id", m.info.GetId(), "addr", m.Addr(), "version", version.Version)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.loop(ctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.http.Serve(m.listener) }()
	lost := make(chan error, 1)
	if m.raft == nil {
		m.post(m.recoverFrameworks)
		m.post(m.expectAgents)
		m.publishLeader(ctx)
	} else {
		go m.followLeadership(ctx, lost)
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("master: serve: %w", err)
	case err = <-lost:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.zkMu.Lock()
	if m.zkPublisher != nil {
		m.zkPublisher.Close()
	}
	m.zkMu.Unlock()
	m.grpc.Stop()
	_ = m.http.Shutdown(shutdownCtx)
	wg.Wait()
	if cerr := m.registry.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// loop runs the closures handed to the master and the allocation cycles,
// one at a time, until ctx is cancelled.
func (m *Master) loop(ctx context.Context) {
	defer m.mailbox.Close()
	defer m.closeConnections()
	ticker := time.NewTicker(m.cfg.AllocationInterval)
	defer ticker.Stop()
	for {
		select {
		case fn := <-m.mailbox.Work():
			fn()
			// Batch: run what else is waiting before allocating, so that a
			// burst of freed resources yields one cycle.
			for i := 0; i < 256; i++ {
				select {
				case fn := <-m.mailbox.Work():
					fn()
					continue
				default:
				}
				break
			}
			m.allocate(false)
		case now := <-ticker.C:
			m.allocate(m.filtersExpired(now))
		case <-ctx.Done():
			return
		}
	}
}

func (m *Master) do(ctx context.Context, fn func()) error { return m.mailbox.Do(ctx, fn) }
func (m *Master) post(fn func())                          { m.mailbox.Post(fn) }
func (m *Master) after(d time.Duration, fn func()) *time.Timer {
	return m.mailbox.After(d, fn)
}

// closeConnections ends every scheduler stream and agent link when the
// master stops.
func (m *Master) closeConnections() {
	for _, fw := range m.frameworks {
		if fw.stream != nil {
			fw.stream.Close()
		}
	}
	for _, a := range m.agents {
		if a.link != nil {
			a.link.out.Close()
		}
	}
	for _, q := range m.subscribers {
		q.Close()
	}
}
