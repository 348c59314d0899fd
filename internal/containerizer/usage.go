package containerizer

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Measured is the extra ability of containers that can report their
// resource usage (/monitor/statistics, GET_CONTAINERS).
type Measured interface {
	Usage() (*mesos.ResourceStatistics, error)
}

// clockTicks is USER_HZ, the unit of cpuacct.stat.
const clockTicks = 100

// Usage reads the container's cgroups, as Mesos's cgroups isolators report
// ResourceStatistics.
func (cc *cgroupContainer) Usage() (*mesos.ResourceStatistics, error) {
	st := &mesos.ResourceStatistics{Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9)}
	if cc.limits.CPUs > 0 {
		st.CpusLimit = proto.Float64(cc.limits.CPUs)
	}
	if dir, ok := cc.dirs["cpuacct"]; ok {
		kv := readKV(filepath.Join(dir, "cpuacct.stat"))
		st.CpusUserTimeSecs = proto.Float64(float64(kv["user"]) / clockTicks)
		st.CpusSystemTimeSecs = proto.Float64(float64(kv["system"]) / clockTicks)
	}
	cpuDir, ok := cc.dirs["cpu"]
	if !ok && cc.c.v2 {
		// cgroup v2 accounts CPU time in every cgroup, controller or not.
		for _, dir := range cc.dirs {
			cpuDir, ok = dir, true
		}
	}
	if dir := cpuDir; ok {
		kv := readKV(filepath.Join(dir, "cpu.stat"))
		if cc.c.v2 {
			st.CpusUserTimeSecs = proto.Float64(float64(kv["user_usec"]) / 1e6)
			st.CpusSystemTimeSecs = proto.Float64(float64(kv["system_usec"]) / 1e6)
			st.CpusThrottledTimeSecs = proto.Float64(float64(kv["throttled_usec"]) / 1e6)
		} else {
			st.CpusThrottledTimeSecs = proto.Float64(float64(kv["throttled_time"]) / 1e9)
		}
		st.CpusNrPeriods = proto.Uint32(uint32(kv["nr_periods"]))
		st.CpusNrThrottled = proto.Uint32(uint32(kv["nr_throttled"]))
	}
	if dir, ok := cc.dirs["memory"]; ok {
		kv := readKV(filepath.Join(dir, "memory.stat"))
		usage, limit := "memory.usage_in_bytes", "memory.limit_in_bytes"
		if cc.c.v2 {
			usage, limit = "memory.current", "memory.max"
			st.MemRssBytes = proto.Uint64(uint64(kv["anon"]))
			st.MemCacheBytes = proto.Uint64(uint64(kv["file"]))
		} else {
			st.MemRssBytes = proto.Uint64(uint64(kv["total_rss"]))
			st.MemCacheBytes = proto.Uint64(uint64(kv["total_cache"]))
			st.MemMappedFileBytes = proto.Uint64(uint64(kv["total_mapped_file"]))
		}
		st.MemTotalBytes = proto.Uint64(uint64(readInt(filepath.Join(dir, usage))))
		st.MemLimitBytes = proto.Uint64(uint64(readInt(filepath.Join(dir, limit))))
	}
	for _, ctl := range []string{"pids", "memory", "cpu"} {
		if dir, ok := cc.dirs[ctl]; ok {
			procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			st.Processes = proto.Uint32(uint32(len(strings.Fields(string(procs)))))
			threads, _ := os.ReadFile(filepath.Join(dir, "tasks"))
			if n := len(strings.Fields(string(threads))); n > 0 {
				st.Threads = proto.Uint32(uint32(n))
			}
			break
		}
	}
	return st, nil
}

// readKV reads "key value" lines.
func readKV(path string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 2 {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			out[fields[0]] = v
		}
	}
	return out
}

func readInt(path string) int64 {
	b, _ := os.ReadFile(path)
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}
