package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/testenv"
)

// TestLaunchSmall runs the launch benchmark at a small size so that the
// code behind `plateau bench launch` stays working.
func TestLaunchSmall(t *testing.T) {
	os.Setenv("PLATEAU_TEST_ROLE", "executor")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Launch(context.Background(), LaunchOptions{Tasks: 20, Single: 3, ExecutorCommand: []string{self}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 0 || r.Tasks != 20 || r.TasksPerSecond <= 0 || r.SingleP50Ms <= 0 || r.RunningP99Ms < r.RunningP50Ms {
		t.Fatalf("implausible result %+v", r)
	}
}

// BenchmarkLaunch measures launching command tasks end to end (master,
// agent, executor processes); ns/op is per task.
func BenchmarkLaunch(b *testing.B) {
	os.Setenv("PLATEAU_TEST_ROLE", "executor")
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Launch(context.Background(), LaunchOptions{Tasks: b.N, ExecutorCommand: []string{self}}); err != nil {
		b.Fatal(err)
	}
}

// TestStateSmall keeps `plateau bench state` working at a small size.
func TestStateSmall(t *testing.T) {
	r, err := State(context.Background(), StateOptions{Agents: 20, Tasks: 200, Frameworks: 4, Requests: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Every task is in the served state.
	if r.StateBytes < 200*100 || r.StateP50Ms <= 0 || r.Agents != 20 {
		t.Fatalf("implausible result %+v", r)
	}
}

// TestContainerizerSmall keeps `plateau bench containerizer` working; it
// needs cgroups (root), which CI has.
func TestContainerizerSmall(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root for cgroups")
	}
	os.Setenv("PLATEAU_TEST_ROLE", "executor")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Containerizer(context.Background(), 3, "cgroups/cpu,cgroups/mem", []string{self})
	if err != nil {
		t.Fatal(err)
	}
	if r.PosixP50Ms <= 0 || r.IsolatedP50Ms <= 0 {
		t.Fatalf("implausible result %+v", r)
	}
}

// The failover benchmark at a small size: everything comes back, and the
// figures are in order (the leader first).
func TestFailoverSmall(t *testing.T) {
	r, err := Failover(context.Background(), FailoverOptions{Masters: 3, Agents: 3, Frameworks: 2, ElectionTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.NewLeaderMs <= 0 || r.AgentsReregisteredMs < r.NewLeaderMs || r.FrameworksResubscribedMs <= 0 {
		t.Fatalf("figures out of order: %+v", r)
	}
}
