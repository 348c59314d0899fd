package master

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/zk"
)

// Config holds the master's settings. Flag names and defaults are Mesos's
// (docs/configuration/master.md); the zero Config is not valid, start from
// DefaultConfig.
type Config struct {
	IP       string // --ip: address to listen on
	Port     int    // --port
	Hostname string // --hostname advertised to frameworks and agents
	// AdvertiseIP is the address advertised in MasterInfo (defaults to IP,
	// or 127.0.0.1 when IP is unspecified).
	AdvertiseIP string
	WorkDir     string // --work_dir: where the registry lives

	// OfferTimeout rescinds offers not answered in time (0 = never).
	OfferTimeout time.Duration
	// AllocationInterval is the period of the batched full allocation
	// cycle, on top of the event-driven cycles after resources free up.
	AllocationInterval time.Duration
	// HeartbeatInterval is how often subscribed schedulers get HEARTBEAT.
	HeartbeatInterval time.Duration
	// An agent whose link is down for AgentPingTimeout*MaxAgentPingTimeouts
	// is marked unreachable (Mesos's --agent_ping_timeout and
	// --max_agent_ping_timeouts).
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// Roles, when set, is the whitelist of roles frameworks may use.
	Roles string
	// Weights are roles' weights, "role=weight,role=weight" (--weights).
	Weights string
	// Peers lists every master of a highly available group, this one
	// included, as host:port ("10.0.0.1:5050,10.0.0.2:5050,10.0.0.3:5050").
	// The masters replicate their registry with Raft, on each master's
	// port + 2 (5052 beside 5050, clear of the agent's 5051), and elect the
	// leader; empty runs one master alone.
	Peers string
	// Quorum is how many masters make a majority (Mesos's --quorum); it
	// must be more than half of Peers.
	Quorum int
	// ZK, zk://host:port,host:port/path, is where the leading master
	// publishes itself in Mesos's layout (json.info_ znodes), for tools
	// that find a Mesos leader through ZooKeeper.
	ZK string
	// AgentReregisterTimeout is how long agents the registry knows have,
	// after a master failover or restart, to register again before they
	// are marked unreachable (Mesos's --agent_reregister_timeout).
	AgentReregisterTimeout time.Duration
	// RegistryMaxAgentAge and RegistryMaxAgentCount bound the unreachable
	// and gone agents the registry remembers (Mesos's flags of the same
	// names).
	RegistryMaxAgentAge   time.Duration
	RegistryMaxAgentCount int
	// RaftElectionTimeout is how long followers wait for the leader
	// before electing another.
	RaftElectionTimeout time.Duration
	// MinAllocatableResources lists minimum offer sizes, "cpus:0.01|mem:32"
	// (--min_allocatable_resources): an offer is made only when it holds at
	// least one of them.
	MinAllocatableResources string
}

// parseMinAllocatable reads --min_allocatable_resources.
func parseMinAllocatable(s string) ([]resources.Quantities, error) {
	var out []resources.Quantities
	for _, part := range strings.Split(s, "|") {
		q, err := resources.ParseQuantities(part)
		if err != nil {
			return nil, fmt.Errorf("--min_allocatable_resources: %w", err)
		}
		if q.IsEmpty() {
			return nil, fmt.Errorf("--min_allocatable_resources: %q names no scalar resource", part)
		}
		out = append(out, q)
	}
	return out, nil
}

// parseWeights reads --weights.
func parseWeights(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("--weights: %q is not role=weight", part)
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("--weights: weight of %q must be a positive number, not %q", role, w)
		}
		if err := validateRole(role); err != nil {
			return nil, fmt.Errorf("--weights: %w", err)
		}
		out[role] = v
	}
	return out, nil
}

// DefaultConfig returns Mesos's defaults.
func DefaultConfig() Config {
	return Config{
		IP:                   "0.0.0.0",
		Port:                 5050,
		AllocationInterval:   time.Second,
		HeartbeatInterval:    15 * time.Second,
		AgentPingTimeout:     15 * time.Second,
		MaxAgentPingTimeouts: 5,
		// Mesos's default.
		MinAllocatableResources: "cpus:0.01|mem:32",
		RaftElectionTimeout:     500 * time.Millisecond,
		AgentReregisterTimeout:  10 * time.Minute,
		RegistryMaxAgentAge:     14 * 24 * time.Hour,
		RegistryMaxAgentCount:   100 * 1024,
	}
}

// RegisterFlags binds c's fields to flags in fs, using c's values as the
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.IP, "ip", c.IP, "IP address to listen on")
	fs.IntVar(&c.Port, "port", c.Port, "port to listen on (scheduler, operator and agent APIs)")
	fs.StringVar(&c.Hostname, "hostname", c.Hostname, "hostname the master advertises (default: the system hostname)")
	fs.StringVar(&c.AdvertiseIP, "advertise_ip", c.AdvertiseIP, "IP address advertised to frameworks and agents (default: --ip, or 127.0.0.1 when --ip is 0.0.0.0)")
	fs.StringVar(&c.WorkDir, "work_dir", c.WorkDir, "directory for the master's persistent state (registry)")
	fs.DurationVar(&c.OfferTimeout, "offer_timeout", c.OfferTimeout, "rescind offers not accepted or declined within this duration (0: never)")
	fs.DurationVar(&c.AllocationInterval, "allocation_interval", c.AllocationInterval, "period of the batched allocation cycle; freed resources are also offered at once")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat_interval", c.HeartbeatInterval, "interval between HEARTBEAT events to schedulers")
	fs.DurationVar(&c.AgentPingTimeout, "agent_ping_timeout", c.AgentPingTimeout, "how long an agent may go unheard before a ping counts as missed")
	fs.IntVar(&c.MaxAgentPingTimeouts, "max_agent_ping_timeouts", c.MaxAgentPingTimeouts, "missed pings after which an agent is marked unreachable")
	fs.StringVar(&c.Roles, "roles", c.Roles, "comma-separated whitelist of roles frameworks may subscribe with (default: any)")
	fs.StringVar(&c.Weights, "weights", c.Weights, "roles' weights for fair sharing, e.g. \"prod=3,dev=1\" (default: 1 each)")
	fs.StringVar(&c.Peers, "peers", c.Peers, "all the masters of a highly available group, this one included, as host:port,host:port,... (Raft runs on each port + 2)")
	fs.IntVar(&c.Quorum, "quorum", c.Quorum, "with --peers: how many masters make a majority")
	fs.StringVar(&c.ZK, "zk", c.ZK, "zk://host:port[,host:port]/path where the leading master publishes itself as Mesos's do (json.info_ znodes)")
	fs.DurationVar(&c.AgentReregisterTimeout, "agent_reregister_timeout", c.AgentReregisterTimeout, "after a failover or restart, how long known agents have to register again before they are marked unreachable")
	fs.DurationVar(&c.RegistryMaxAgentAge, "registry_max_agent_age", c.RegistryMaxAgentAge, "how long the registry remembers an unreachable or gone agent")
	fs.IntVar(&c.RegistryMaxAgentCount, "registry_max_agent_count", c.RegistryMaxAgentCount, "how many unreachable and gone agents the registry remembers, each")
	fs.DurationVar(&c.RaftElectionTimeout, "raft_election_timeout", c.RaftElectionTimeout, "with --peers: how long masters wait for a silent leader before electing another")
	fs.StringVar(&c.MinAllocatableResources, "min_allocatable_resources", c.MinAllocatableResources,
		"minimum offer sizes, alternatives separated by '|': an offer holds at least one of them")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if net.ParseIP(c.IP) == nil {
		errs = append(errs, fmt.Errorf("--ip %q is not an IP address", c.IP))
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		errs = append(errs, fmt.Errorf("--advertise_ip %q is not an IP address", c.AdvertiseIP))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d is not a port number", c.Port))
	}
	if c.OfferTimeout < 0 {
		errs = append(errs, fmt.Errorf("--offer_timeout must not be negative"))
	}
	if c.AllocationInterval <= 0 {
		errs = append(errs, fmt.Errorf("--allocation_interval must be positive"))
	}
	if _, err := parseWeights(c.Weights); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseMinAllocatable(c.MinAllocatableResources); err != nil {
		errs = append(errs, err)
	}
	if peers := c.peers(); len(peers) > 0 {
		for _, p := range peers {
			if _, _, err := net.SplitHostPort(p); err != nil {
				errs = append(errs, fmt.Errorf("--peers: %q is not host:port", p))
			}
		}
		if c.Quorum <= len(peers)/2 || c.Quorum > len(peers) {
			errs = append(errs, fmt.Errorf("--quorum %d must be a majority of the %d --peers (%d)", c.Quorum, len(peers), len(peers)/2+1))
		}
		if c.WorkDir == "" {
			errs = append(errs, errors.New("--peers needs --work_dir for the replicated registry"))
		}
		if c.Port == 0 {
			errs = append(errs, errors.New("--peers needs a fixed --port"))
		}
	}
	if c.ZK != "" {
		if _, _, err := zk.ParseURL(c.ZK); err != nil {
			errs = append(errs, fmt.Errorf("--zk: %w", err))
		}
	}
	if c.RegistryMaxAgentAge <= 0 || c.RegistryMaxAgentCount <= 0 {
		errs = append(errs, fmt.Errorf("--registry_max_agent_age and --registry_max_agent_count must be positive"))
	}
	if c.AgentReregisterTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--agent_reregister_timeout must be positive"))
	}
	if c.AgentPingTimeout <= 0 || c.MaxAgentPingTimeouts <= 0 {
		errs = append(errs, fmt.Errorf("--agent_ping_timeout and --max_agent_ping_timeouts must be positive"))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, fmt.Errorf("--heartbeat_interval must be positive"))
	}
	return errors.Join(errs...)
}

// peers is --peers as a list.
func (c *Config) peers() []string { return flagenv.List(c.Peers) }

// raftPortOffset places a master's Raft port after its HTTP port,
// skipping the agent's default (5050: 5052).
const raftPortOffset = 2

// raftAddr is a master's Raft address: its host and port + 2.
func raftAddr(httpAddr string) string {
	host, port, _ := net.SplitHostPort(httpAddr)
	p, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(p+raftPortOffset))
}

// httpAddr is the inverse of raftAddr.
func httpAddr(raft string) string {
	host, port, err := net.SplitHostPort(raft)
	if err != nil {
		return ""
	}
	p, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(p-raftPortOffset))
}
