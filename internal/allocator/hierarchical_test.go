package allocator

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/resources"
)

func q(t *testing.T, s string) resources.Quantities {
	t.Helper()
	v, err := resources.ParseQuantities(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// held sums what each framework holds after simulate-like cycles.
func heldBy(allocs []Allocation) map[string]float64 {
	out := map[string]float64{}
	for _, a := range allocs {
		out[a.FrameworkID] += a.Resources.Scalar("cpus")
	}
	return out
}

// With weights 2:1, roles converge to a 2:1 share of contended resources.
func TestWeightsGiveProportionalShares(t *testing.T) {
	a := New(Options{Weights: map[string]float64{"gold": 2, "silver": 1}})
	for i := range 30 {
		a.AddAgent(fmt.Sprintf("s%02d", i), Agent{}, parse(t, "cpus:1;mem:1024"), nil)
	}
	a.AddFramework("g", Framework{Roles: []string{"gold"}}, nil, true)
	a.AddFramework("s", Framework{Roles: []string{"silver"}}, nil, true)
	got := heldBy(a.Allocate(time.Unix(0, 0)))
	if got["g"] != 20 || got["s"] != 10 {
		t.Fatalf("gold got %v cpus and silver %v, want 20 and 10", got["g"], got["s"])
	}
}

// Hierarchical roles: eng (with eng/web and eng/db) and ops share first
// at the top level, then within eng.
func TestHierarchicalRoles(t *testing.T) {
	a := New(Options{})
	for i := range 40 {
		a.AddAgent(fmt.Sprintf("s%02d", i), Agent{}, parse(t, "cpus:1;mem:1024"), nil)
	}
	a.AddFramework("web", Framework{Roles: []string{"eng/web"}}, nil, true)
	a.AddFramework("db", Framework{Roles: []string{"eng/db"}}, nil, true)
	a.AddFramework("ops", Framework{Roles: []string{"ops"}}, nil, true)
	got := heldBy(a.Allocate(time.Unix(0, 0)))
	if got["ops"] != 20 || got["web"] != 10 || got["db"] != 10 {
		t.Fatalf("got %v, want ops 20 and eng's 20 split 10/10", got)
	}
}

func TestQuotaGuaranteeMetUnderContention(t *testing.T) {
	a := New(Options{})
	for i := range 10 {
		a.AddAgent(fmt.Sprintf("s%02d", i), Agent{}, parse(t, "cpus:2;mem:2048"), nil)
	}
	// "big" already holds most of the cluster's share elsewhere...
	a.AddFramework("greedy", Framework{Roles: []string{"batch"}}, nil, true)
	a.AddFramework("critical", Framework{Roles: []string{"prod"}}, nil, true)
	a.SetQuota("prod", Quota{Guarantees: q(t, "cpus:12;mem:12288")})
	got := heldBy(a.Allocate(time.Unix(0, 0)))
	if got["critical"] < 12 {
		t.Fatalf("prod's guarantee of 12 cpus not met: %v", got)
	}
}

func TestQuotaLimitNeverExceeded(t *testing.T) {
	a := New(Options{})
	for i := range 10 {
		a.AddAgent(fmt.Sprintf("s%02d", i), Agent{}, parse(t, "cpus:2;mem:2048"), nil)
	}
	a.AddFramework("capped", Framework{Roles: []string{"dev"}}, nil, true)
	a.SetQuota("dev", Quota{Limits: q(t, "cpus:3")})
	now := time.Unix(0, 0)
	for range 5 { // limits hold across cycles too
		a.Allocate(now)
	}
	total := 0.0
	for _, agent := range a.(*hierarchical).agents {
		for _, r := range agent.allocated {
			total += r.Scalar("cpus")
		}
	}
	if total > 3 {
		t.Fatalf("dev holds %v cpus, over its limit of 3", total)
	}
	if math.Abs(total-3) > 1e-9 {
		t.Fatalf("dev holds %v cpus, want all 3 its limit allows", total)
	}
}

// Headroom: with quota guarantees unmet by lack of demand, other roles do
// not get what the guarantees need.
func TestQuotaHeadroomHeldBack(t *testing.T) {
	a := New(Options{})
	for i := range 10 {
		a.AddAgent(fmt.Sprintf("s%02d", i), Agent{}, parse(t, "cpus:1;mem:1024"), nil)
	}
	a.SetQuota("prod", Quota{Guarantees: q(t, "cpus:4")}) // no prod framework yet
	a.AddFramework("other", Framework{Roles: []string{"batch"}}, nil, true)
	got := heldBy(a.Allocate(time.Unix(0, 0)))
	if got["other"] > 6 {
		t.Fatalf("batch got %v cpus; 4 must stay free for prod's guarantee", got["other"])
	}
}
