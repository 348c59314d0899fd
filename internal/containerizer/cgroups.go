package containerizer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Isolators by Mesos's names (--isolation).
const (
	IsolatorCgroupsCPU    = "cgroups/cpu"
	IsolatorCgroupsMem    = "cgroups/mem"
	IsolatorCgroupsPids   = "cgroups/pids"
	IsolatorPosixCPU      = "posix/cpu"
	IsolatorPosixMem      = "posix/mem"
	IsolatorNamespacesPID = "namespaces/pid"
)

// Limits are what a container may use, from its resources.
type Limits struct {
	CPUs     float64 // cpu shares (1024 per CPU), and a CFS quota when CFS is on
	MemoryMB float64
}

// Limitation says why a container was stopped by its isolation, as Mesos
// reports it in a task's status.
type Limitation struct {
	Memory  bool // the memory limit was hit (OOM killer)
	Message string
}

// Limited is the extra ability of containers whose isolation can stop
// them: after the container's process has exited, Limitation reports
// whether the isolation was why.
type Limited interface {
	Limitation() (Limitation, bool)
}

// Cgroups isolates containers with Linux control groups: v1 hierarchies
// (a mount per controller under Root) or the v2 unified tree (Root is a
// cgroup2 mount). Each container gets a cgroup Root/<controller>/<Parent>/<id>.
type Cgroups struct {
	Root       string // default /sys/fs/cgroup
	Parent     string // default "plateau" (Mesos: --cgroups_root)
	Isolators  []string
	EnableCFS  bool  // hard CPU limits (--cgroups_enable_cfs)
	PidsLimit  int64 // pids.max per container when cgroups/pids is on
	Posix      Posix
	v2         bool
	controller map[string]bool
}

// NewCgroups checks that the host can isolate with the given isolators
// and returns the containerizer.
func NewCgroups(c Cgroups) (*Cgroups, error) {
	if c.Root == "" {
		c.Root = "/sys/fs/cgroup"
	}
	if c.Parent == "" {
		c.Parent = "plateau"
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = 4096
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cgroups isolation needs root")
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.Root, &st); err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	c.v2 = st.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
	c.controller = map[string]bool{}
	for _, iso := range c.Isolators {
		var ctl string
		switch iso {
		case IsolatorCgroupsCPU:
			ctl = "cpu"
			// Mesos's cpu isolator also accounts with cpuacct (v1).
			if !c.v2 && c.available("cpuacct") {
				c.controller["cpuacct"] = true
			}
		case IsolatorCgroupsMem:
			ctl = "memory"
		case IsolatorCgroupsPids:
			ctl = "pids"
		default:
			continue
		}
		if !c.available(ctl) {
			return nil, fmt.Errorf("isolator %s: the %s cgroup controller is not available under %s", iso, ctl, c.Root)
		}
		c.controller[ctl] = true
	}
	return &c, nil
}

func (c *Cgroups) available(ctl string) bool {
	if c.v2 {
		b, err := os.ReadFile(filepath.Join(c.Root, "cgroup.controllers"))
		return err == nil && strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+ctl+" ")
	}
	_, err := os.Stat(filepath.Join(c.Root, ctl, "cgroup.procs"))
	return err == nil
}

// dirs are a container's cgroup directories, one per controller (one in
// all for v2).
func (c *Cgroups) dirs(id string) map[string]string {
	out := map[string]string{}
	for ctl := range c.controller {
		if c.v2 {
			out[ctl] = filepath.Join(c.Root, c.Parent, id)
		} else {
			out[ctl] = filepath.Join(c.Root, ctl, c.Parent, id)
		}
	}
	return out
}

// Launch creates the container's cgroups with its limits, starts its
// process and moves it in before it can start any task.
func (c *Cgroups) Launch(ctx context.Context, cfg LaunchConfig) (Container, error) {
	dirs := c.dirs(cfg.ContainerID)
	if c.v2 && len(dirs) > 0 {
		if err := c.enableV2Controllers(); err != nil {
			return nil, err
		}
	}
	for ctl, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroups: creating %s: %w", dir, err)
		}
		if err := c.setLimits(ctl, dir, cfg.Limits); err != nil {
			c.remove(dirs)
			return nil, err
		}
	}
	p, err := c.Posix.Launch(ctx, cfg)
	if err != nil {
		c.remove(dirs)
		return nil, err
	}
	pid := strconv.Itoa(p.Pid())
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0o644); err != nil {
			_ = p.Signal(syscall.SIGKILL)
			_, _ = p.Wait()
			c.remove(dirs)
			return nil, fmt.Errorf("cgroups: moving pid %s into %s: %w", pid, dir, err)
		}
	}
	return &cgroupContainer{process: p.(*process), c: c, dirs: dirs, limits: cfg.Limits}, nil
}

func (c *Cgroups) enableV2Controllers() error {
	parent := filepath.Join(c.Root, c.Parent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	var ctls []string
	for ctl := range c.controller {
		ctls = append(ctls, "+"+ctl)
	}
	for _, dir := range []string{c.Root, parent} {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(ctls, " ")), 0o644); err != nil {
			return fmt.Errorf("cgroups: enabling %v in %s: %w", ctls, dir, err)
		}
	}
	return nil
}

// setLimits writes a controller's limits (Mesos's formulas: 1024 shares
// per CPU with a floor of 2, CFS period 100 ms).
func (c *Cgroups) setLimits(ctl, dir string, l Limits) error {
	write := func(file, value string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
			return fmt.Errorf("cgroups: writing %s to %s: %w", value, filepath.Join(dir, file), err)
		}
		return nil
	}
	switch ctl {
	case "cpu":
		if l.CPUs <= 0 {
			return nil
		}
		shares := max(2, int64(l.CPUs*1024))
		quota := max(1000, int64(l.CPUs*100000))
		if c.v2 {
			// cgroup v2 weight: shares mapped onto 1..10000 as systemd does.
			weight := max(1, min(10000, 1+((shares-2)*9999)/262142))
			if err := write("cpu.weight", strconv.FormatInt(weight, 10)); err != nil {
				return err
			}
			if c.EnableCFS {
				return write("cpu.max", fmt.Sprintf("%d 100000", quota))
			}
			return nil
		}
		if err := write("cpu.shares", strconv.FormatInt(shares, 10)); err != nil {
			return err
		}
		if c.EnableCFS {
			if err := write("cpu.cfs_period_us", "100000"); err != nil {
				return err
			}
			return write("cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
		}
	case "memory":
		if l.MemoryMB <= 0 {
			return nil
		}
		bytes := strconv.FormatInt(int64(l.MemoryMB*1024*1024), 10)
		if c.v2 {
			return write("memory.max", bytes)
		}
		return write("memory.limit_in_bytes", bytes)
	case "pids":
		return write("pids.max", strconv.FormatInt(c.PidsLimit, 10))
	}
	return nil
}

// remove kills whatever is left in the cgroups and deletes them.
func (c *Cgroups) remove(dirs map[string]string) {
	for _, dir := range dirs {
		for range 50 {
			procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			fields := strings.Fields(string(procs))
			if len(fields) == 0 {
				break
			}
			for _, f := range fields {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			time.Sleep(10 * time.Millisecond) // the kernel reaps asynchronously
		}
		_ = os.Remove(dir)
	}
}

type cgroupContainer struct {
	*process
	c      *Cgroups
	dirs   map[string]string
	limits Limits
	oom    bool
	peakMB float64
}

// Wait waits for the main process, then records whether the memory
// limit was hit and removes the cgroups.
func (cc *cgroupContainer) Wait() (int, error) {
	status, err := cc.process.Wait()
	cc.oom, cc.peakMB = cc.memoryLimitHit()
	cc.c.remove(cc.dirs)
	return status, err
}

// OOMKills counts the OOM killer's kills in the container so far.
func (cc *cgroupContainer) OOMKills() int64 {
	dir, ok := cc.dirs["memory"]
	if !ok {
		return 0
	}
	file := "memory.oom_control"
	if cc.c.v2 {
		file = "memory.events"
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 2 && fields[0] == "oom_kill" {
			n, _ := strconv.ParseInt(fields[1], 10, 64)
			return n
		}
	}
	return 0
}

func (cc *cgroupContainer) memoryLimitHit() (bool, float64) {
	dir, ok := cc.dirs["memory"]
	if !ok {
		return false, 0
	}
	peakFile := "memory.max_usage_in_bytes"
	if cc.c.v2 {
		peakFile = "memory.peak"
	}
	b, _ := os.ReadFile(filepath.Join(dir, peakFile))
	peak, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return cc.OOMKills() > 0, peak / (1024 * 1024)
}

// Limitation implements Limited.
func (cc *cgroupContainer) Limitation() (Limitation, bool) {
	if !cc.oom && cc.OOMKills() == 0 {
		return Limitation{}, false
	}
	return Limitation{Memory: true, Message: fmt.Sprintf("Memory limit exceeded: Requested: %gMB Maximum Used: %.0fMB", cc.limits.MemoryMB, cc.peakMB)}, true
}

// Join moves a process into the container's cgroups.
func (cc *cgroupContainer) Join(pid int) error {
	for _, dir := range cc.dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("cgroups: moving pid %d into %s: %w", pid, dir, err)
		}
	}
	return nil
}
