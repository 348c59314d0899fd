package e2e

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/plateau/plateau/internal/cluster"
)

func healthCheck(t mesos.HealthCheck_Type) *mesos.HealthCheck {
	zero, interval := 0.0, 0.05
	failures := uint32(2)
	return &mesos.HealthCheck{Type: t, DelaySeconds: &zero, IntervalSeconds: &interval, GracePeriodSeconds: &zero, ConsecutiveFailures: &failures}
}

func TestHealthyCommandCheck(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-health"))
	offer := s.offer()
	task := commandTask("healthy", offer, "sleep 1000")
	task.HealthCheck = healthCheck(mesos.HealthCheck_COMMAND)
	task.HealthCheck.Command = &mesos.CommandInfo{Value: ptr("true")}
	s.call(launch(offer, task))
	s.expectStates("healthy", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	st := s.update("healthy")
	if st.GetState() != mesos.TASK_RUNNING || st.Healthy == nil || !*st.Healthy || st.GetReason() != mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
		t.Fatalf("got %v healthy=%v reason %v, want TASK_RUNNING healthy", st.GetState(), st.Healthy, st.GetReason())
	}
}

// A task failing its TCP health check consecutive_failures times is
// killed, and its end says it was unhealthy.
func TestFailingHealthCheckKillsTask(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[1], frameworkInfo("e2e-unhealthy"))
	offer := s.offer()
	task := commandTask("unhealthy", offer, "sleep 1000")
	task.HealthCheck = healthCheck(mesos.HealthCheck_TCP)
	task.HealthCheck.TCP = &mesos.HealthCheck_TCPCheckInfo{Port: 1} // nothing listens there
	s.call(launch(offer, task))
	s.expectStates("unhealthy", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	st := s.update("unhealthy")
	if st.GetState() != mesos.TASK_RUNNING || st.Healthy == nil || *st.Healthy {
		t.Fatalf("got %v healthy=%v, want TASK_RUNNING unhealthy", st.GetState(), st.Healthy)
	}
	st = s.update("unhealthy")
	if st.GetState() != mesos.TASK_KILLED || st.Healthy == nil || *st.Healthy {
		t.Fatalf("got %v healthy=%v, want TASK_KILLED unhealthy", st.GetState(), st.Healthy)
	}
}

func TestHTTPHealthCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-http-health"))
	offer := s.offer()
	task := commandTask("web", offer, "sleep 1000")
	task.HealthCheck = healthCheck(mesos.HealthCheck_HTTP)
	task.HealthCheck.HTTP = &mesos.HealthCheck_HTTPCheckInfo{Port: uint32(port), Path: ptr("/health")}
	s.call(launch(offer, task))
	s.expectStates("web", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	if st := s.update("web"); st.Healthy == nil || !*st.Healthy {
		t.Fatalf("got %v healthy=%v, want healthy", st.GetState(), st.Healthy)
	}
}

// A general check (CheckInfo) is reported in check_status when its result
// changes; it never kills the task.
func TestCommandCheckReported(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-check"))
	offer := s.offer()
	task := commandTask("checked", offer, "sleep 1000")
	zero, interval := 0.0, 0.05
	task.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, DelaySeconds: &zero, IntervalSeconds: &interval,
		Command: &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: ptr("exit 3")}}}
	s.call(launch(offer, task))
	s.expectStates("checked", mesos.TASK_STARTING, mesos.TASK_RUNNING)
	st := s.update("checked")
	if st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_TASK_CHECK_STATUS_UPDATED ||
		st.CheckStatus == nil || st.CheckStatus.GetCommand().GetExitCode() != 3 {
		t.Fatalf("got %v %v check_status %v, want exit code 3 reported", st.GetState(), st.GetReason(), st.CheckStatus)
	}
}
