package agent

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/taskstate"
)

// The disk/du isolator, as Mesos's: every --container_disk_watch_interval
// the agent measures each sandbox with a du-like walk (persistent volumes
// are links out of the sandbox and are not counted) and, with
// --enforce_container_disk_quota, kills a container that uses more than its
// tasks' and executor's disk; its tasks end TASK_FAILED with
// REASON_CONTAINER_LIMITATION_DISK.

// IsolatorDiskDu is the isolator's name in --isolation.
const IsolatorDiskDu = "disk/du"

// diskLimitMB is the disk an executor's container may use: the
// executor's and its tasks' disk, persistent volumes excepted.
func (e *executorRun) diskLimitMB() float64 {
	rs := resources.Resources(e.info.GetResources())
	for _, t := range e.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			rs = rs.Add(t.GetResources())
		}
	}
	rs = rs.Filter(func(r *mesos.Resource) bool { return !resources.IsPersistentVolume(r) })
	return rs.Scalar("disk")
}

// watchDisk schedules the next disk check. Runs on the loop.
func (a *Agent) watchDisk() {
	a.after(a.cfg.ContainerDiskWatchInterval, func() {
		type job struct {
			e     *executorRun
			dir   string
			limit float64
		}
		var jobs []job
		for _, fw := range a.frameworks {
			for _, e := range fw.executors {
				if e.container != nil && !e.terminated {
					jobs = append(jobs, job{e, e.directory, e.diskLimitMB()})
				}
			}
		}
		go func() {
			for _, j := range jobs {
				used := du(j.dir)
				a.post(func() { a.diskMeasured(j.e, used, j.limit) })
			}
			a.post(a.watchDisk)
		}()
	})
}

// diskMeasured records a sandbox's size and enforces the limit. Runs on
// the loop.
func (a *Agent) diskMeasured(e *executorRun, usedBytes int64, limitMB float64) {
	e.diskUsedBytes = usedBytes
	limit := int64(limitMB * 1024 * 1024)
	if e.terminated || !a.cfg.EnforceContainerDiskQuota || limit <= 0 || usedBytes <= limit || e.diskLimitation != "" {
		return
	}
	e.diskLimitation = fmt.Sprintf("Disk usage (%d bytes) exceeds quota (%d bytes)", usedBytes, limit)
	a.log.Warn("container over its disk quota: killing it", "executor", e.info.GetExecutorId().GetValue(), "used", usedBytes, "limit", limit)
	_ = e.container.Signal(syscall.SIGKILL)
}

// du sums the disk blocks of the files under dir, not following links.
func du(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}
