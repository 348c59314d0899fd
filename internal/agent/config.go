package agent

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/plateau/plateau/internal/containerizer"
	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/zk"

	"github.com/plateau/plateau/internal/resources"
)

// Config holds the agent's settings, with Mesos's flag names and defaults
// (docs/configuration/agent.md). Start from DefaultConfig.
type Config struct {
	Master      string // --master: host:port of the master
	IP          string // --ip
	Port        int    // --port
	AdvertiseIP string // --advertise_ip
	Hostname    string // --hostname
	WorkDir     string // --work_dir (required)
	Resources   string // --resources (text or JSON); detected when empty
	Attributes  string // --attributes, e.g. "rack:r1;zone:a"

	ExecutorRegistrationTimeout time.Duration
	ExecutorShutdownGracePeriod time.Duration
	// disk/du: how often sandboxes are measured, and whether a container
	// over its disk is killed (Mesos's --container_disk_watch_interval and
	// --enforce_container_disk_quota).
	ContainerDiskWatchInterval time.Duration
	EnforceContainerDiskQuota  bool
	RegistrationBackoffFactor  time.Duration

	// Isolation lists isolators by Mesos's names (--isolation); empty
	// means the strongest the host allows.
	Isolation        string
	CgroupsHierarchy string // --cgroups_hierarchy
	CgroupsRoot      string // --cgroups_root: the parent cgroup of containers
	CgroupsEnableCFS bool   // --cgroups_enable_cfs
	CgroupsPidsLimit int64  // --cgroups_pids_limit: pids.max per container

	// FetcherCacheDir and FetcherCacheSize (--fetcher_cache_dir,
	// --fetcher_cache_size) hold URIs fetched with cache: true.
	FetcherCacheDir  string
	FetcherCacheSize string

	// Recover is reconnect (take back running executors after a restart)
	// or cleanup (kill them), as Mesos's --recover.
	Recover string

	// ExecutorCommand starts the command executor; default: this binary's
	// "executor" subcommand.
	ExecutorCommand []string
}

// DefaultConfig returns Mesos's defaults.
func DefaultConfig() Config {
	return Config{
		IP:                          "0.0.0.0",
		Port:                        5051,
		ExecutorRegistrationTimeout: time.Minute,
		ExecutorShutdownGracePeriod: 5 * time.Second,
		ContainerDiskWatchInterval:  15 * time.Second,
		RegistrationBackoffFactor:   time.Second,
		CgroupsHierarchy:            "/sys/fs/cgroup",
		CgroupsRoot:                 "plateau",
		CgroupsPidsLimit:            4096,
		Recover:                     "reconnect",
		FetcherCacheSize:            "2GB",
	}
}

// RegisterFlags binds c to flags in fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Master, "master", c.Master, "the master's host:port, the masters' host:port,host:port,... (the agent registers with the one that leads), or zk://host:port/path where the leader is published")
	fs.StringVar(&c.IP, "ip", c.IP, "IP address to listen on")
	fs.IntVar(&c.Port, "port", c.Port, "port to listen on (executor and operator APIs)")
	fs.StringVar(&c.AdvertiseIP, "advertise_ip", c.AdvertiseIP, "IP address advertised to the master and executors (default: --ip, or 127.0.0.1 when --ip is 0.0.0.0)")
	fs.StringVar(&c.Hostname, "hostname", c.Hostname, "hostname the agent advertises (default: the system hostname)")
	fs.StringVar(&c.WorkDir, "work_dir", c.WorkDir, "directory for sandboxes and agent state (required)")
	fs.StringVar(&c.Resources, "resources", c.Resources, `total resources, e.g. "cpus:4;mem:8192;disk:10000;ports:[31000-32000];cpus(web):2" or a JSON array of Resource (default: detected)`)
	fs.StringVar(&c.Attributes, "attributes", c.Attributes, `attributes, e.g. "rack:r1;zone:a;level:3"`)
	fs.DurationVar(&c.ExecutorRegistrationTimeout, "executor_registration_timeout", c.ExecutorRegistrationTimeout, "how long an executor may take to subscribe before it is killed")
	fs.DurationVar(&c.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period", c.ExecutorShutdownGracePeriod, "how long an executor has to shut down after SHUTDOWN")
	fs.StringVar(&c.Isolation, "isolation", c.Isolation, "isolators, e.g. \"cgroups/cpu,cgroups/mem,cgroups/pids\" or \"posix/cpu,posix/mem\" (default: cgroups when running as root, else posix)")
	fs.DurationVar(&c.ContainerDiskWatchInterval, "container_disk_watch_interval", c.ContainerDiskWatchInterval, "with disk/du, how often sandboxes are measured")
	fs.BoolVar(&c.EnforceContainerDiskQuota, "enforce_container_disk_quota", c.EnforceContainerDiskQuota, "with disk/du, kill a container that uses more disk than its resources")
	fs.StringVar(&c.CgroupsHierarchy, "cgroups_hierarchy", c.CgroupsHierarchy, "where the cgroup hierarchies are mounted")
	fs.StringVar(&c.CgroupsRoot, "cgroups_root", c.CgroupsRoot, "name of the cgroup under which containers' cgroups are made")
	fs.BoolVar(&c.CgroupsEnableCFS, "cgroups_enable_cfs", c.CgroupsEnableCFS, "cap CPU use at the task's cpus with CFS quotas (not only shares)")
	fs.Int64Var(&c.CgroupsPidsLimit, "cgroups_pids_limit", c.CgroupsPidsLimit, "most processes a container may have, with cgroups/pids")
	fs.StringVar(&c.FetcherCacheDir, "fetcher_cache_dir", c.FetcherCacheDir, "where URIs fetched with cache: true are kept (default: work_dir/fetch)")
	fs.StringVar(&c.FetcherCacheSize, "fetcher_cache_size", c.FetcherCacheSize, "size of the fetcher cache, e.g. 2GB, 512MB or bytes")
	fs.StringVar(&c.Recover, "recover", c.Recover, "after a restart, reconnect to running executors of checkpointing frameworks, or cleanup (kill them)")
	fs.DurationVar(&c.RegistrationBackoffFactor, "registration_backoff_factor", c.RegistrationBackoffFactor, "initial backoff between attempts to (re-)register with the master")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.Master == "" {
		errs = append(errs, errors.New("--master is required"))
	} else if zk.IsURL(c.Master) {
		if _, _, err := zk.ParseURL(c.Master); err != nil {
			errs = append(errs, fmt.Errorf("--master: %w", err))
		}
	} else {
		for _, m := range c.masters() {
			if _, _, err := net.SplitHostPort(m); err != nil {
				errs = append(errs, fmt.Errorf("--master %q is not host:port", m))
			}
		}
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("--work_dir is required"))
	}
	if net.ParseIP(c.IP) == nil {
		errs = append(errs, fmt.Errorf("--ip %q is not an IP address", c.IP))
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		errs = append(errs, fmt.Errorf("--advertise_ip %q is not an IP address", c.AdvertiseIP))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d is not a port number", c.Port))
	}
	if c.Resources != "" {
		if _, err := resources.Parse(c.Resources, "*"); err != nil {
			errs = append(errs, fmt.Errorf("--resources: %w", err))
		}
	}
	if _, err := parseAttributes(c.Attributes); err != nil {
		errs = append(errs, fmt.Errorf("--attributes: %w", err))
	}
	if _, err := parseBytes(c.FetcherCacheSize); err != nil {
		errs = append(errs, fmt.Errorf("--fetcher_cache_size: %w", err))
	}
	if c.Recover != "reconnect" && c.Recover != "cleanup" {
		errs = append(errs, fmt.Errorf("--recover must be reconnect or cleanup, not %q", c.Recover))
	}
	for _, iso := range flagenv.List(c.Isolation) {
		switch iso {
		case containerizer.IsolatorCgroupsCPU, containerizer.IsolatorCgroupsMem, containerizer.IsolatorCgroupsPids,
			containerizer.IsolatorPosixCPU, containerizer.IsolatorPosixMem, containerizer.IsolatorNamespacesPID, IsolatorDiskDu, containerizer.IsolatorFilesystemLinux:
		default:
			errs = append(errs, fmt.Errorf("--isolation: unknown isolator %q", iso))
		}
	}
	for name, d := range map[string]time.Duration{
		"executor_registration_timeout":  c.ExecutorRegistrationTimeout,
		"executor_shutdown_grace_period": c.ExecutorShutdownGracePeriod,
		"registration_backoff_factor":    c.RegistrationBackoffFactor,
		"container_disk_watch_interval":  c.ContainerDiskWatchInterval,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive", name))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) advertiseIP() string {
	if c.AdvertiseIP != "" {
		return c.AdvertiseIP
	}
	if ip := net.ParseIP(c.IP); ip != nil && !ip.IsUnspecified() {
		return c.IP
	}
	return "127.0.0.1"
}

func (c *Config) hostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	h, err := os.Hostname()
	if err != nil || strings.TrimSpace(h) == "" {
		return c.advertiseIP()
	}
	return h
}

// parseBytes reads a size as Mesos writes them: "2GB", "512MB", "64KB",
// "100B" or plain bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size like 2GB", s)
	}
	return int64(n * float64(mult)), nil
}

// masters is --master as a list.
func (c *Config) masters() []string { return flagenv.List(c.Master) }
