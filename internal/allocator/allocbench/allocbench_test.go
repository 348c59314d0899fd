package allocbench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	r, err := Run(context.Background(), Options{Agents: 50, Frameworks: 10, Roles: 2, Cycles: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Every agent is offered in a full cycle, to one framework each.
	if r.OffersPerFullCycle != 50 || r.FullCycleP50Ms <= 0 || r.OneAgentCycleP50Ms <= 0 {
		t.Fatalf("implausible result %+v", r)
	}
}

// BenchmarkAllocate is a full allocation cycle at growing cluster sizes,
// 1,000 frameworks (100 at 100 agents) in 10 roles.
func BenchmarkAllocate(b *testing.B) {
	for _, agents := range []int{100, 1000, 10000} {
		frameworks := min(1000, agents)
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			a, _ := Build(Options{Agents: agents, Frameworks: frameworks, Roles: 10})
			now := time.Unix(0, 0)
			for b.Loop() {
				allocs := a.Allocate(now)
				b.StopTimer()
				for _, al := range allocs {
					a.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkAllocateOneAgentFreed is the event-driven cycle after one
// agent's resources come back, at 10,000 agents.
func BenchmarkAllocateOneAgentFreed(b *testing.B) {
	a, ids := Build(Options{Agents: 10000, Frameworks: 1000, Roles: 10})
	now := time.Unix(0, 0)
	held := map[string]bool{}
	for _, al := range a.Allocate(now) {
		held[al.AgentID] = true
	}
	id := ids[0]
	for b.Loop() {
		b.StopTimer()
		allocs := a.AllocateAgents(now, []string{id})
		for _, al := range allocs {
			a.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
		}
		b.StartTimer()
		a.AllocateAgents(now, []string{id})
		b.StopTimer()
		for _, al := range a.AllocateAgents(now, nil) {
			_ = al
		}
		b.StartTimer()
	}
}
