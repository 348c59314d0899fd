package allocator

import (
	"testing"
	"time"

	"github.com/plateau/plateau/internal/resources"
)

func parse(t *testing.T, s string) resources.Resources {
	t.Helper()
	rs, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// simulate runs offer cycles in which each framework launches at most one
// task of its size per offer and returns the rest, until nobody launches.
func simulate(t *testing.T, a Allocator, tasks map[string]resources.Resources) map[string]int {
	t.Helper()
	launched := map[string]int{}
	now := time.Unix(0, 0)
	for cycle := 0; cycle < 100; cycle++ {
		progress := false
		for _, al := range a.Allocate(now) {
			task := tasks[al.FrameworkID].Allocate(al.Role)
			left := al.Resources
			if al.Resources.Contains(task) {
				launched[al.FrameworkID]++
				left = al.Resources.Subtract(task)
				progress = true
			}
			a.Recover(al.FrameworkID, al.AgentID, left, now, 0)
		}
		if !progress {
			return launched
		}
	}
	t.Fatal("allocation did not converge")
	return nil
}

// The example of Ghodsi et al., "Dominant Resource Fairness", NSDI'11.
func TestDRFPaperExample(t *testing.T) {
	a := New(Options{})
	a.AddAgent("s1", Agent{}, parse(t, "cpus:9;mem:18432"), nil)
	a.AddFramework("A", Framework{Roles: []string{"*"}}, nil, true)
	a.AddFramework("B", Framework{Roles: []string{"*"}}, nil, true)
	got := simulate(t, a, map[string]resources.Resources{
		"A": parse(t, "cpus:1;mem:4096"),
		"B": parse(t, "cpus:3;mem:1024"),
	})
	if got["A"] != 3 || got["B"] != 2 {
		t.Fatalf("DRF gave A %d and B %d tasks, want 3 and 2", got["A"], got["B"])
	}
}

func TestReservedResourcesStayWithTheirRole(t *testing.T) {
	a := New(Options{})
	a.AddAgent("s1", Agent{}, parse(t, "cpus:1;mem:128;cpus(web):4;mem(web):512"), nil)
	a.AddFramework("web-fw", Framework{Roles: []string{"web"}}, nil, true)
	a.AddFramework("other", Framework{Roles: []string{"batch"}}, nil, true)
	for _, al := range a.Allocate(time.Unix(0, 0)) {
		for _, r := range al.Resources {
			if resources.IsReserved(r) && al.FrameworkID != "web-fw" {
				t.Fatalf("reserved %v offered to %s", r, al.FrameworkID)
			}
			if r.GetAllocationInfo().GetRole() != al.Role {
				t.Fatalf("%v not allocated to %s", r, al.Role)
			}
		}
	}
}

func TestRefusalFilterAndRevive(t *testing.T) {
	a := New(Options{})
	a.AddAgent("s1", Agent{}, parse(t, "cpus:1;mem:128"), nil)
	a.AddFramework("f", Framework{Roles: []string{"*"}}, nil, true)
	now := time.Unix(100, 0)
	offers := a.Allocate(now)
	if len(offers) != 1 {
		t.Fatalf("got %d offers, want 1", len(offers))
	}
	a.Recover("f", "s1", offers[0].Resources, now, 10*time.Second)
	if got := a.Allocate(now.Add(5 * time.Second)); len(got) != 0 {
		t.Fatalf("filtered agent offered again: %v", got)
	}
	if got := a.Allocate(now.Add(11 * time.Second)); len(got) != 1 {
		t.Fatalf("after the filter expired got %d offers, want 1", len(got))
	}
	a.Recover("f", "s1", offers[0].Resources, now, time.Hour)
	a.ReviveOffers("f", nil)
	if got := a.Allocate(now); len(got) != 1 {
		t.Fatalf("revive did not clear the filter: %d offers", len(got))
	}
}

func TestSuppressAndInactive(t *testing.T) {
	a := New(Options{})
	a.AddAgent("s1", Agent{}, parse(t, "cpus:1;mem:128"), nil)
	a.AddFramework("f", Framework{Roles: []string{"*"}}, nil, true)
	a.SuppressOffers("f", nil)
	if got := a.Allocate(time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("suppressed framework got offers: %v", got)
	}
	a.ReviveOffers("f", nil)
	a.DeactivateFramework("f")
	if got := a.Allocate(time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("inactive framework got offers: %v", got)
	}
	a.ActivateFramework("f")
	a.DeactivateAgent("s1")
	if got := a.Allocate(time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("inactive agent offered: %v", got)
	}
}

func TestUsedResourcesAreNotOffered(t *testing.T) {
	a := New(Options{})
	a.AddFramework("f", Framework{Roles: []string{"*"}}, nil, true)
	used := parse(t, "cpus:3;mem:100").Allocate("*")
	a.AddAgent("s1", Agent{}, parse(t, "cpus:4;mem:128"), map[string]resources.Resources{"f": used})
	got := a.Allocate(time.Unix(0, 0))
	if len(got) != 1 || got[0].Resources.Scalar("cpus") != 1 || got[0].Resources.Scalar("mem") != 28 {
		t.Fatalf("got %v, want the remaining cpus:1;mem:28", got)
	}
}

// A framework's offer_filters replace --min_allocatable_resources for a
// role: with cpus:4 required, a 2-cpu agent is not offered; an empty list
// accepts any offer, even one below the global minimum.
func TestFrameworkMinAllocatable(t *testing.T) {
	four, _ := resources.ParseQuantities("cpus:4")
	a := New(Options{})
	a.AddAgent("s1", Agent{}, parse(t, "cpus:2;mem:16"), nil)
	a.AddFramework("f", Framework{Roles: []string{"r"}, MinAllocatable: map[string][]resources.Quantities{"r": {four}}}, nil, true)
	if got := a.Allocate(time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("offered below the framework's minimum: %v", got)
	}
	a.UpdateFramework("f", Framework{Roles: []string{"r"}, MinAllocatable: map[string][]resources.Quantities{"r": {}}})
	if got := a.Allocate(time.Unix(0, 0)); len(got) != 1 {
		t.Fatalf("no offer once the framework accepts any size: %v", got)
	}
	// The global minimum (cpus:0.01 or mem:32) applies to other roles.
	b := New(Options{})
	b.AddAgent("s1", Agent{}, parse(t, "mem:16"), nil)
	b.AddFramework("f", Framework{Roles: []string{"r"}}, nil, true)
	if got := b.Allocate(time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("offered mem:16 under the default minimum: %v", got)
	}
}

func BenchmarkAllocate(b *testing.B) {
	a := New(Options{})
	total, _ := resources.Parse("cpus:16;mem:65536;ports:[31000-32000]", "*")
	for i := range 100 {
		a.AddAgent(string(rune('a'+i%26))+string(rune('0'+i)), Agent{}, total, nil)
	}
	for i := range 10 {
		a.AddFramework(string(rune('A'+i)), Framework{Roles: []string{"*"}}, nil, true)
	}
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		for _, al := range a.Allocate(now) {
			a.Recover(al.FrameworkID, al.AgentID, al.Resources, now, 0)
		}
	}
}
