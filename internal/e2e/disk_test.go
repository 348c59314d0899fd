package e2e

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/plateau/plateau/internal/agent"
	"github.com/plateau/plateau/internal/cluster"
)

// disk/du with --enforce_container_disk_quota: a task that writes more
// than its disk is killed with REASON_CONTAINER_LIMITATION_DISK; one
// within its disk runs on, its usage in /monitor/statistics.
func TestDiskQuota(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Agent: func(_ int, c *agent.Config) {
		c.Isolation = "posix/cpu,posix/mem,disk/du"
		c.ContainerDiskWatchInterval = 50 * time.Millisecond
		c.EnforceContainerDiskQuota = true
	}})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-disk"))
	offer := s.offer()
	modest := commandTask("modest", offer, "dd if=/dev/zero of=small bs=1048576 count=1 2>/dev/null; sleep 1000")
	modest.Resources = append(modest.Resources, scalar("disk", 16))
	s.call(launch(offer, modest))
	s.expectStates("modest", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	offer = s.offer()
	hog := commandTask("hog", offer, "dd if=/dev/zero of=big bs=1048576 count=8 2>/dev/null; sleep 1000")
	hog.Resources = append(hog.Resources, scalar("disk", 2))
	s.call(launch(offer, hog))
	// The hog may be killed before or after it is reported running.
	st := s.terminal("hog")
	if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LIMITATION_DISK {
		t.Fatalf("hog: %v %v (%s), want TASK_FAILED with REASON_CONTAINER_LIMITATION_DISK", st.GetState(), st.GetReason(), st.GetMessage())
	}
	waitFor(t, "the modest task's disk usage in /monitor/statistics", func() bool {
		var stats []struct {
			ExecutorID string `json:"executor_id"`
			Statistics struct {
				Used  float64 `json:"disk_used_bytes"`
				Limit float64 `json:"disk_limit_bytes"`
			} `json:"statistics"`
		}
		getJSON(t, "http://"+c.Agents[0].Addr()+"/monitor/statistics", &stats)
		for _, e := range stats {
			if e.ExecutorID == "modest" {
				return e.Statistics.Used >= 1<<20 && e.Statistics.Limit == 16<<20
			}
		}
		return false
	})
}
