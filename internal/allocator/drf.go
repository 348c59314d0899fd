package allocator

import (
	"math"
	"math/rand"
	"sort"
	"time"

	"github.com/plateau/plateau/internal/resources"
)

// Options configures the DRF allocator.
type Options struct {
	// Seed orders agents within a cycle reproducibly (Mesos shuffles them).
	Seed int64
	// MinAllocatable lists minimum offer sizes: an offer is made only if it
	// holds at least one of them. Default: Mesos's "cpus:0.01|mem:32".
	MinAllocatable []resources.Quantities
}

// DefaultMinAllocatable is Mesos's default --min_allocatable_resources.
func DefaultMinAllocatable() []resources.Quantities {
	cpus, _ := resources.ParseQuantities("cpus:0.01")
	mem, _ := resources.ParseQuantities("mem:32")
	return []resources.Quantities{cpus, mem}
}

type drfFramework struct {
	id         string
	info       Framework
	active     bool
	suppressed map[string]bool
	// allocated holds what the framework holds, by agent.
	allocated map[string]resources.Resources
	// quantities is the sum of allocated, for its dominant share.
	quantities resources.Quantities
	// refused maps agent ID to the time until which it is filtered.
	refused map[string]time.Time
}

type drfAgent struct {
	id        string
	info      Agent
	total     resources.Resources
	allocated map[string]resources.Resources // by framework
	active    bool
}

func (a *drfAgent) available() resources.Resources {
	avail := a.total
	for _, r := range a.allocated {
		avail = avail.Subtract(r.Unallocate())
	}
	return avail
}

// drf is Dominant Resource Fairness between frameworks: each agent's free
// resources go to the active framework with the smallest dominant share
// that can use them.
type drf struct {
	opts       Options
	rng        *rand.Rand
	frameworks map[string]*drfFramework
	agents     map[string]*drfAgent
	total      resources.Quantities
}

// New returns a DRF allocator.
func New(opts Options) Allocator {
	if opts.MinAllocatable == nil {
		opts.MinAllocatable = DefaultMinAllocatable()
	}
	return &drf{
		opts:       opts,
		rng:        rand.New(rand.NewSource(opts.Seed)),
		frameworks: map[string]*drfFramework{},
		agents:     map[string]*drfAgent{},
	}
}

func (d *drf) AddFramework(id string, fw Framework, used map[string]resources.Resources, active bool) {
	f := &drfFramework{id: id, info: fw, active: active, suppressed: map[string]bool{},
		allocated: map[string]resources.Resources{}, refused: map[string]time.Time{}}
	d.frameworks[id] = f
	for agentID, r := range used {
		d.Allocated(id, agentID, r)
	}
}

func (d *drf) UpdateFramework(id string, fw Framework) {
	if f := d.frameworks[id]; f != nil {
		f.info = fw
	}
}

func (d *drf) RemoveFramework(id string) {
	f := d.frameworks[id]
	if f == nil {
		return
	}
	for agentID := range f.allocated {
		if a := d.agents[agentID]; a != nil {
			delete(a.allocated, id)
		}
	}
	delete(d.frameworks, id)
}

func (d *drf) ActivateFramework(id string) {
	if f := d.frameworks[id]; f != nil {
		f.active = true
	}
}

func (d *drf) DeactivateFramework(id string) {
	if f := d.frameworks[id]; f != nil {
		f.active = false
	}
}

func (d *drf) SuppressOffers(id string, roles []string) {
	f := d.frameworks[id]
	if f == nil {
		return
	}
	if len(roles) == 0 {
		roles = f.info.Roles
	}
	for _, r := range roles {
		f.suppressed[r] = true
	}
}

func (d *drf) ReviveOffers(id string, roles []string) {
	f := d.frameworks[id]
	if f == nil {
		return
	}
	if len(roles) == 0 {
		roles = f.info.Roles
	}
	for _, r := range roles {
		delete(f.suppressed, r)
	}
	clear(f.refused)
}

func (d *drf) AddAgent(id string, agent Agent, total resources.Resources, used map[string]resources.Resources) {
	a := &drfAgent{id: id, info: agent, total: total, allocated: map[string]resources.Resources{}, active: true}
	d.agents[id] = a
	d.total = d.total.Add(total.ScalarQuantities())
	for fwID, r := range used {
		d.Allocated(fwID, id, r)
	}
}

func (d *drf) RemoveAgent(id string) {
	a := d.agents[id]
	if a == nil {
		return
	}
	for fwID, r := range a.allocated {
		if f := d.frameworks[fwID]; f != nil {
			delete(f.allocated, id)
			f.quantities = f.quantities.Subtract(r.ScalarQuantities())
		}
	}
	d.total = d.total.Subtract(a.total.ScalarQuantities())
	delete(d.agents, id)
}

func (d *drf) UpdateAgentTotal(id string, total resources.Resources) {
	if a := d.agents[id]; a != nil {
		d.total = d.total.Subtract(a.total.ScalarQuantities()).Add(total.ScalarQuantities())
		a.total = total
	}
}

func (d *drf) ActivateAgent(id string) {
	if a := d.agents[id]; a != nil {
		a.active = true
	}
}

func (d *drf) DeactivateAgent(id string) {
	if a := d.agents[id]; a != nil {
		a.active = false
	}
}

func (d *drf) Allocated(frameworkID, agentID string, res resources.Resources) {
	f, a := d.frameworks[frameworkID], d.agents[agentID]
	if f == nil || a == nil || res.IsEmpty() {
		return
	}
	f.allocated[agentID] = f.allocated[agentID].Add(res)
	f.quantities = f.quantities.Add(res.ScalarQuantities())
	a.allocated[frameworkID] = a.allocated[frameworkID].Add(res)
}

func (d *drf) Recover(frameworkID, agentID string, res resources.Resources, now time.Time, refuse time.Duration) {
	f, a := d.frameworks[frameworkID], d.agents[agentID]
	if f == nil || a == nil {
		return
	}
	held := f.allocated[agentID]
	left := held.Subtract(res)
	f.quantities = f.quantities.Subtract(held.ScalarQuantities()).Add(left.ScalarQuantities())
	if left.IsEmpty() {
		delete(f.allocated, agentID)
		delete(a.allocated, frameworkID)
	} else {
		f.allocated[agentID] = left
		a.allocated[frameworkID] = left
	}
	if refuse > 0 {
		f.refused[agentID] = now.Add(refuse)
	}
}

func (d *drf) Allocate(now time.Time) []Allocation {
	ids := make([]string, 0, len(d.agents))
	for id := range d.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	d.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return d.AllocateAgents(now, ids)
}

func (d *drf) AllocateAgents(now time.Time, agentIDs []string) []Allocation {
	var out []Allocation
	for _, id := range agentIDs {
		a := d.agents[id]
		if a == nil || !a.active {
			continue
		}
		available := a.available()
		if available.IsEmpty() {
			continue
		}
		for _, f := range d.sortedFrameworks() {
			if !f.active {
				continue
			}
			if until, ok := f.refused[id]; ok {
				if now.Before(until) {
					continue
				}
				delete(f.refused, id)
			}
			for _, role := range f.info.Roles {
				if f.suppressed[role] {
					continue
				}
				offer := available.AllocatableTo(role)
				if !d.allocatable(offer) {
					continue
				}
				offer = offer.Allocate(role)
				d.Allocated(f.id, id, offer)
				available = available.Subtract(offer.Unallocate())
				out = append(out, Allocation{FrameworkID: f.id, AgentID: id, Role: role, Resources: offer})
			}
			if available.IsEmpty() {
				break
			}
		}
	}
	return out
}

// allocatable applies the minimum offer size.
func (d *drf) allocatable(r resources.Resources) bool {
	if r.IsEmpty() {
		return false
	}
	q := r.ScalarQuantities()
	for _, min := range d.opts.MinAllocatable {
		if q.Contains(min) {
			return true
		}
	}
	// Non-scalar resources alone (ports) are not worth an offer.
	return len(d.opts.MinAllocatable) == 0
}

// sortedFrameworks orders frameworks by dominant share, then ID.
func (d *drf) sortedFrameworks() []*drfFramework {
	fs := make([]*drfFramework, 0, len(d.frameworks))
	shares := make(map[string]float64, len(d.frameworks))
	for _, f := range d.frameworks {
		fs = append(fs, f)
		shares[f.id] = d.dominantShare(f.quantities)
	}
	sort.Slice(fs, func(i, j int) bool {
		if si, sj := shares[fs[i].id], shares[fs[j].id]; si != sj {
			return si < sj
		}
		return fs[i].id < fs[j].id
	})
	return fs
}

func (d *drf) dominantShare(q resources.Quantities) float64 {
	share := 0.0
	for _, e := range q {
		if total := d.total.Get(e.Name); total > 0 {
			share = math.Max(share, float64(e.Value)/1000/total)
		}
	}
	return share
}
