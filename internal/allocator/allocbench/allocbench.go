// Package allocbench measures the allocator in-process at cluster scale;
// `plateau bench allocator` prints its result.
package allocbench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/plateau/plateau/internal/stats"

	"github.com/plateau/plateau/internal/allocator"
	"github.com/plateau/plateau/internal/resources"
)

// Options size the benchmark.
type Options struct {
	Agents     int
	Frameworks int
	Roles      int // frameworks are spread over this many roles (default 1)
	Cycles     int // full cycles measured (default 10)
}

// Result is one JSON line of figures.
type Result struct {
	Agents             int     `json:"agents"`
	Frameworks         int     `json:"frameworks"`
	Roles              int     `json:"roles"`
	FullCycleP50Ms     float64 `json:"full_cycle_p50_ms"`
	FullCycleP99Ms     float64 `json:"full_cycle_p99_ms"`
	OneAgentCycleP50Ms float64 `json:"one_agent_freed_cycle_p50_ms"`
	OneAgentCycleP99Ms float64 `json:"one_agent_freed_cycle_p99_ms"`
	OffersPerFullCycle int     `json:"offers_per_full_cycle"`
	AllocationsPerSec  float64 `json:"allocations_per_second"`
	HeapInUseMB        float64 `json:"heap_in_use_mb"`
	GOMAXPROCS         int     `json:"gomaxprocs"`
}

// Build makes an allocator with the given agents (16 cpus, 64 GB, disk,
// ports) and frameworks spread over roles.
func Build(o Options) (allocator.Allocator, []string) {
	if o.Roles <= 0 {
		o.Roles = 1
	}
	a := allocator.New(allocator.Options{Seed: 1})
	total, _ := resources.Parse("cpus:16;mem:65536;disk:100000;ports:[31000-32000]", "*")
	ids := make([]string, o.Agents)
	for i := range o.Agents {
		ids[i] = fmt.Sprintf("agent-%05d", i)
		a.AddAgent(ids[i], allocator.Agent{Hostname: ids[i]}, total, nil)
	}
	for i := range o.Frameworks {
		a.AddFramework(fmt.Sprintf("fw-%04d", i), allocator.Framework{Roles: []string{fmt.Sprintf("role-%d", i%o.Roles)}}, nil, true)
	}
	return a, ids
}

// Run measures full cycles (every agent's resources free) and cycles after
// one agent's resources are freed.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Roles <= 0 {
		o.Roles = 1
	}
	if o.Cycles <= 0 {
		o.Cycles = 10
	}
	a, ids := Build(o)
	res := Result{Agents: o.Agents, Frameworks: o.Frameworks, Roles: o.Roles, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	now := time.Unix(0, 0)
	var full, one []time.Duration
	allocations := 0
	var allocTime time.Duration
	for c := 0; c < o.Cycles; c++ {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		start := time.Now()
		allocs := a.Allocate(now)
		d := time.Since(start)
		full = append(full, d)
		allocations += len(allocs)
		allocTime += d
		res.OffersPerFullCycle = len(allocs)
		// One agent's resources come back: a cycle over it alone.
		for i := 0; i < 20 && i < len(allocs); i++ {
			al := allocs[i]
			a.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
			start := time.Now()
			again := a.AllocateAgents(now, []string{al.AgentID})
			one = append(one, time.Since(start))
			allocs[i] = again[0]
		}
		// Everything comes back for the next full cycle (declined offers).
		for _, al := range allocs {
			a.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
		}
	}
	_ = ids
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInUseMB = float64(ms.HeapInuse) / (1 << 20)
	res.FullCycleP50Ms, res.FullCycleP99Ms = stats.PercentileMs(full, 50), stats.PercentileMs(full, 99)
	res.OneAgentCycleP50Ms, res.OneAgentCycleP99Ms = stats.PercentileMs(one, 50), stats.PercentileMs(one, 99)
	if allocTime > 0 {
		res.AllocationsPerSec = float64(allocations) / allocTime.Seconds()
	}
	return res, nil
}
