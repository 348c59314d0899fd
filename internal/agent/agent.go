// Package agent is Plateau's Mesos agent: it registers with the master over
// the AgentLink stream, launches executors in sandboxes through a
// containerizer, serves the v1 executor API, and delivers task status
// updates to the framework reliably.
//
// All of the agent's state is owned by one goroutine (loop); HTTP handlers,
// the master link and container waiters hand it closures.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plateau/plateau/internal/actor"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/containerizer"
	"github.com/plateau/plateau/internal/fetcher"
	"github.com/plateau/plateau/internal/files"
	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/queue"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/version"
)

// Agent is a running agent.
type Agent struct {
	cfg           Config
	log           *slog.Logger
	level         *slog.LevelVar // changed by SET_LOGGING_LEVEL
	containerizer containerizer.Containerizer
	fetcher       *fetcher.Fetcher
	files         *files.Server
	start         time.Time

	listener net.Listener
	http     *http.Server
	conns    map[string]*grpc.ClientConn // by master address; owned by the link loop

	mailbox *actor.Mailbox
	// stopRequested is closed when the master tells the agent to stop.
	stopRequested chan struct{}
	stopOnce      sync.Once

	// Owned by the loop goroutine.
	info                *mesos.AgentInfo                      // id set once registered
	total               resources.Resources                   // static resources with the checkpointed ones applied
	checkpointed        resources.Resources                   // dynamic reservations and persistent volumes
	link                *queue.Queue[*plateaupb.AgentMessage] // nil while disconnected
	frameworks          map[string]*framework
	completedFrameworks []*framework
	updates             *updateManager
	masterHostname      string
	// nested are the containers launched in executors' containers by the
	// operator API, by container ID.
	nested map[string]*nestedContainer
	// pidNamespace and mountNamespace: containers have their own.
	pidNamespace, mountNamespace bool
}

// Option customises an Agent.
type Option func(*Agent)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// WithLogLevel lets the operator API's SET_LOGGING_LEVEL change the
// level of the logger's handler.
func WithLogLevel(l *slog.LevelVar) Option { return func(a *Agent) { a.level = l } }

// WithLogFile serves the agent's log file at /slave/log, as Mesos does
// with --log_dir ("" for none).
func WithLogFile(path string) Option {
	return func(a *Agent) {
		if path != "" {
			a.files.Attach("/slave/log", path)
		}
	}
}

// WithContainerizer replaces the posix containerizer.
func WithContainerizer(c containerizer.Containerizer) Option {
	return func(a *Agent) { a.containerizer = c }
}

// New validates cfg, detects the agent's resources and binds its listener.
func New(cfg Config, opts ...Option) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: work dir: %w", err)
	}
	if len(cfg.ExecutorCommand) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("agent: locating the executor: %w", err)
		}
		cfg.ExecutorCommand = []string{self, "executor"}
	}
	total, err := totalResources(&cfg)
	if err != nil {
		return nil, err
	}
	attrs, err := parseAttributes(cfg.Attributes)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:           cfg,
		log:           slog.Default(),
		fetcher:       newFetcher(&cfg),
		files:         &files.Server{},
		start:         time.Now(),
		mailbox:       actor.New(1024),
		stopRequested: make(chan struct{}),
		total:         total,
		frameworks:    map[string]*framework{},
		updates:       newUpdateManager(),
		nested:        map[string]*nestedContainer{},
		pidNamespace:  hasIsolator(cfg.Isolation, containerizer.IsolatorNamespacesPID),
		mountNamespace: hasIsolator(cfg.Isolation, containerizer.IsolatorNamespacesPID) ||
			hasIsolator(cfg.Isolation, containerizer.IsolatorFilesystemLinux),
	}
	for _, o := range opts {
		o(a)
	}
	if a.level == nil {
		a.level = &slog.LevelVar{}
	}
	if a.containerizer == nil {
		if a.containerizer, err = newContainerizer(&cfg, a.log); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("agent: listen: %w", err)
	}
	a.listener = ln
	port := ln.Addr().(*net.TCPAddr).Port
	a.info = &mesos.AgentInfo{
		Hostname:   proto.String(cfg.hostname()),
		Port:       proto.Int32(int32(port)),
		Resources:  total,
		Attributes: attrs,
	}
	if err := a.recoverState(cfg.Recover); err != nil {
		ln.Close()
		return nil, err
	}
	if err := a.recoverResources(); err != nil {
		ln.Close()
		return nil, err
	}
	a.conns = map[string]*grpc.ClientConn{}
	a.http = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// Addr is the address the agent listens on.
func (a *Agent) Addr() string { return a.listener.Addr().String() }

// WorkDir is the agent's --work_dir.
func (a *Agent) WorkDir() string { return a.cfg.WorkDir }

// endpoint is host:port as executors and the master reach the agent.
func (a *Agent) endpoint() string {
	return net.JoinHostPort(a.cfg.advertiseIP(), strconv.Itoa(a.listener.Addr().(*net.TCPAddr).Port))
}

// Run serves until ctx is cancelled; then it shuts its executors down and
// returns.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent started", "addr", a.Addr(), "master", a.cfg.Master, "resources", a.total.String(), "work_dir", a.cfg.WorkDir)
	// The loop and the link outlive ctx a little: executors are shut down
	// first, so their last updates still reach the master.
	loopCtx, stopLoop := context.WithCancel(context.Background())
	linkCtx, stopLink := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.loop(loopCtx) }()
	go func() { defer wg.Done(); a.linkLoop(linkCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.http.Serve(a.listener) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("agent: serve: %w", err)
	case <-a.stopRequested:
		err = errors.New("agent: the master marked this agent gone")
	}
	a.shutdownAll()
	stopLink()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.http.Shutdown(shutdownCtx)
	stopLoop()
	wg.Wait()
	for _, c := range a.conns {
		_ = c.Close()
	}
	return err
}

func (a *Agent) loop(ctx context.Context) {
	defer a.mailbox.Close()
	if hasIsolator(a.cfg.Isolation, IsolatorDiskDu) {
		a.watchDisk()
	}
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case fn := <-a.mailbox.Work():
			fn()
		case now := <-retry.C:
			if a.link != nil {
				for _, u := range a.updates.due(now) {
					a.forward(u)
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

func (a *Agent) do(ctx context.Context, fn func()) error { return a.mailbox.Do(ctx, fn) }
func (a *Agent) post(fn func())                          { a.mailbox.Post(fn) }
func (a *Agent) after(d time.Duration, fn func()) *time.Timer {
	return a.mailbox.After(d, fn)
}

// send queues a message for the master, if connected.
func (a *Agent) send(msg *plateaupb.AgentMessage) {
	if a.link != nil {
		a.link.Push(msg)
	}
}

// shutdownAll shuts every executor down and waits (at most the grace
// period and a little more) for them to exit: Ctrl-C on plateau dev kills
// its tasks.
func (a *Agent) shutdownAll() {
	var waits []<-chan struct{}
	if err := a.do(context.Background(), func() {
		for _, fw := range a.frameworks {
			for _, e := range fw.executors {
				a.shutdownExecutor(e)
				waits = append(waits, e.exited)
			}
		}
	}); err != nil {
		return
	}
	deadline := time.After(a.cfg.ExecutorShutdownGracePeriod + 3*time.Second)
	for _, w := range waits {
		select {
		case <-w:
		case <-deadline:
			a.log.Warn("executors still running at shutdown")
			return
		}
	}
}

// version reported in registrations and /state.
func agentVersion() string { return version.MesosVersion }

// hasIsolator reports whether --isolation names an isolator.
func hasIsolator(isolation, name string) bool {
	return slices.Contains(flagenv.List(isolation), name)
}

// newContainerizer picks the isolation: --isolation's, or the strongest
// the host allows (cgroups as root, posix otherwise, said at start).
func newContainerizer(cfg *Config, log *slog.Logger) (containerizer.Containerizer, error) {
	isolators := flagenv.List(cfg.Isolation)
	explicit := len(isolators) > 0
	if !explicit {
		isolators = []string{containerizer.IsolatorCgroupsCPU, containerizer.IsolatorCgroupsMem, containerizer.IsolatorCgroupsPids}
	}
	cgroups := false
	for _, iso := range isolators {
		cgroups = cgroups || strings.HasPrefix(iso, "cgroups/")
	}
	pidNS := hasIsolator(cfg.Isolation, containerizer.IsolatorNamespacesPID)
	privateTmp := hasIsolator(cfg.Isolation, containerizer.IsolatorFilesystemLinux)
	for _, iso := range []string{containerizer.IsolatorNamespacesPID, containerizer.IsolatorFilesystemLinux} {
		if hasIsolator(cfg.Isolation, iso) && os.Geteuid() != 0 {
			return nil, fmt.Errorf("--isolation: %s needs root", iso)
		}
	}
	posix := containerizer.Posix{PIDNamespace: pidNS, PrivateTmp: privateTmp}
	if !cgroups {
		log.Info("isolation: posix (processes are not confined)", "isolation", strings.Join(isolators, ","))
		return posix, nil
	}
	c, err := containerizer.NewCgroups(containerizer.Cgroups{
		Root: cfg.CgroupsHierarchy, Parent: cfg.CgroupsRoot, Isolators: isolators,
		EnableCFS: cfg.CgroupsEnableCFS, PidsLimit: cfg.CgroupsPidsLimit, Posix: posix,
	})
	if err != nil {
		if explicit {
			return nil, fmt.Errorf("--isolation: %w", err)
		}
		log.Warn("isolation: falling back to posix (processes are not confined)", "reason", err)
		return containerizer.Posix{}, nil
	}
	log.Info("isolation: cgroups", "isolation", strings.Join(isolators, ","), "cfs", cfg.CgroupsEnableCFS)
	return c, nil
}

func newFetcher(cfg *Config) *fetcher.Fetcher {
	dir := cfg.FetcherCacheDir
	if dir == "" {
		dir = filepath.Join(cfg.WorkDir, "fetch")
	}
	size, _ := parseBytes(cfg.FetcherCacheSize) // validated
	return &fetcher.Fetcher{Cache: &fetcher.Cache{Dir: dir, Size: size}}
}
