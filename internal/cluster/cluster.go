// Package cluster starts whole Plateau clusters (a master and agents) in
// one process, on loopback ports, for tests and benchmarks.
//
// Executors are real processes. Test binaries double as the executor: call
// RunIfExecutor first thing in TestMain, and the agents start the test
// binary itself, which then runs the command executor.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/agent"
	"github.com/plateau/plateau/internal/executor"
	"github.com/plateau/plateau/internal/master"
)

// roleEnv tells a re-executed test binary what to be.
const roleEnv = "PLATEAU_TEST_ROLE"

// RunIfExecutor turns the process into the command executor when a test
// agent started it, and otherwise returns at once.
func RunIfExecutor() {
	if os.Getenv(roleEnv) != "executor" {
		return
	}
	cfg, err := executor.ConfigFromEnv(os.Getenv)
	if err == nil {
		err = executor.RunCommand(context.Background(), cfg, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Options shape a cluster.
type Options struct {
	Agents    int    // default 1; negative for none
	Resources string // each agent's --resources; default cpus:4;mem:4096;disk:4096;ports:[31000-31099]
	// Master and Agent adjust the configurations before start.
	Master func(*master.Config)
	Agent  func(i int, c *agent.Config)
	// Log receives the components' logs (default: stderr; in tests,
	// discarded unless -v).
	Log io.Writer
	// WorkDir holds the agents' work dirs (default: a test temp dir).
	WorkDir string
	// ExecutorCommand starts the command executor (default: the test
	// binary in tests, this binary's "executor" subcommand otherwise).
	ExecutorCommand []string
	// Partitionable puts a proxy between each agent and the master, so
	// that Partition and Heal can cut and restore the link.
	Partitionable bool
}

// Cluster is a running cluster.
type Cluster struct {
	Master *master.Master
	Agents []*agent.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup

	proxies      []*Proxy
	mcfg         master.Config
	log          *slog.Logger
	stopMaster   context.CancelFunc
	masterExited chan struct{}
}

// ExecutorCommand makes this test binary the command executor of agents
// a test starts itself (see RunIfExecutor).
func ExecutorCommand(t testing.TB) []string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	os.Setenv(roleEnv, "executor") // inherited by executors only
	return []string{self}
}

// Start starts a cluster whose agents run this test binary as their
// executor (see RunIfExecutor); it stops when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.ExecutorCommand == nil {
		opts.ExecutorCommand = ExecutorCommand(t)
	}
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	if opts.Log == nil && !testing.Verbose() {
		opts.Log = io.Discard
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// New starts a cluster; Stop stops it.
func New(opts Options) (*Cluster, error) {
	switch {
	case opts.Agents == 0:
		opts.Agents = 1
	case opts.Agents < 0: // the test brings its own agents
		opts.Agents = 0
	}
	if opts.Resources == "" {
		opts.Resources = "cpus:4;mem:4096;disk:4096;ports:[31000-31099]"
	}
	out := opts.Log
	if out == nil {
		out = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mcfg := master.DefaultConfig()
	mcfg.IP, mcfg.Port = "127.0.0.1", 0
	mcfg.AllocationInterval = 100 * time.Millisecond
	if opts.Master != nil {
		opts.Master(&mcfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{cancel: cancel, mcfg: mcfg, log: log}
	if err := c.startMaster(ctx); err != nil {
		cancel()
		return nil, err
	}
	m := c.Master
	for i := range opts.Agents {
		acfg := agent.DefaultConfig()
		acfg.Master = m.Addr()
		if opts.Partitionable {
			p, err := NewProxy(m.Addr())
			if err != nil {
				c.Stop()
				return nil, err
			}
			c.proxies = append(c.proxies, p)
			acfg.Master = p.Addr()
		}
		acfg.IP, acfg.Port = "127.0.0.1", 0
		acfg.WorkDir = filepath.Join(opts.WorkDir, fmt.Sprintf("agent-%d", i))
		acfg.Resources = opts.Resources
		acfg.ExecutorCommand = opts.ExecutorCommand
		acfg.ExecutorShutdownGracePeriod = 2 * time.Second
		acfg.RegistrationBackoffFactor = 100 * time.Millisecond
		acfg.Isolation = "posix/cpu,posix/mem" // tests that isolate say so
		if opts.Agent != nil {
			opts.Agent(i, &acfg)
		}
		a, err := agent.New(acfg, agent.WithLogger(log.With("component", "agent", "agent", i)))
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("starting agent %d: %w", i, err)
		}
		c.Agents = append(c.Agents, a)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); _ = a.Run(ctx) }()
	}
	if err := c.WaitForAgents(len(c.Agents), 30*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// WaitForAgents waits until n agents are registered and connected.
func (c *Cluster) WaitForAgents(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var snap map[string]float64
		resp, err := http.Get("http://" + c.MasterAddr() + "/metrics/snapshot")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&snap)
			resp.Body.Close()
		}
		if err == nil && int(snap["master/slaves_active"]) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d agents did not register within %v (last error: %v)", n, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *Cluster) startMaster(ctx context.Context) error {
	m, err := master.New(c.mcfg, master.WithLogger(c.log.With("component", "master")))
	if err != nil {
		return fmt.Errorf("starting master: %w", err)
	}
	// Later restarts reuse the port.
	c.mcfg.Port = int(m.Info().GetAddress().GetPort())
	mctx, stop := context.WithCancel(ctx)
	c.Master, c.stopMaster, c.masterExited = m, stop, make(chan struct{})
	c.wg.Add(1)
	go func() { defer c.wg.Done(); defer close(c.masterExited); _ = m.Run(mctx) }()
	return nil
}

// RestartMaster stops the master and starts a new one on the same port,
// which knows nothing of the old one's state (there is no registry yet):
// agents and frameworks must re-register with it.
func (c *Cluster) RestartMaster() error {
	c.stopMaster()
	<-c.masterExited
	return c.startMaster(context.Background())
}

// Partition cuts agent i off from the master (Partitionable clusters).
func (c *Cluster) Partition(i int) { c.proxies[i].SetCut(true) }

// Heal restores agent i's link to the master.
func (c *Cluster) Heal(i int) { c.proxies[i].SetCut(false) }

// Stop stops the agents (and their executors) and the master.
func (c *Cluster) Stop() {
	c.cancel()
	c.stopMaster()
	c.wg.Wait()
	for _, p := range c.proxies {
		p.Close()
	}
}

// MasterAddr is the master's host:port.
func (c *Cluster) MasterAddr() string { return c.Master.Addr() }
