package allocator

import (
	"math/rand"
	"sort"
	"time"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// Options configures the allocator.
type Options struct {
	// Seed orders agents within a cycle reproducibly (Mesos shuffles them).
	Seed int64
	// MinAllocatable lists minimum offer sizes: an offer is made only if it
	// holds at least one of them. Default: Mesos's "cpus:0.01|mem:32".
	MinAllocatable []resources.Quantities
	// Weights gives roles a weight other than 1 (--weights).
	Weights map[string]float64
}

// DefaultMinAllocatable is Mesos's default --min_allocatable_resources.
func DefaultMinAllocatable() []resources.Quantities {
	cpus, _ := resources.ParseQuantities("cpus:0.01")
	mem, _ := resources.ParseQuantities("mem:32")
	return []resources.Quantities{cpus, mem}
}

// Quota is a role's guarantee and limit (Mesos 1.9+ semantics). A name
// missing from Limits is not limited.
type Quota struct {
	Guarantees resources.Quantities
	Limits     resources.Quantities
}

type drfFramework struct {
	id         string
	info       Framework
	active     bool
	suppressed map[string]bool
	leaves     map[string]*node // by role
	// allocated holds what the framework holds, by agent.
	allocated map[string]resources.Resources
	// refused maps agent ID to the time until which it is filtered.
	refused map[string]time.Time
}

type drfAgent struct {
	id        string
	info      Agent
	total     resources.Resources
	allocated map[string]resources.Resources // by framework
	active    bool
	// available caches total minus allocations, valid unless stale.
	available resources.Resources
	stale     bool
}

func (a *drfAgent) free() resources.Resources {
	if a.stale {
		avail := a.total
		for _, r := range a.allocated {
			avail = avail.SubtractAllocated(r)
		}
		a.available, a.stale = avail, false
	}
	return a.available
}

// hierarchical is Mesos's hierarchical DRF allocator: weighted DRF among
// roles, level by level of the role tree, then among the frameworks of a
// role; quota guarantees are met first, limits are never exceeded, and
// enough unallocated resources are held back to meet every role's unmet
// guarantee.
type hierarchical struct {
	opts       Options
	rng        *rand.Rand
	frameworks map[string]*drfFramework
	agents     map[string]*drfAgent
	agentIDs   []string // sorted, for reproducible shuffles
	total      resources.Quantities
	sorter     *sorter
	quota      map[string]Quota
}

// New returns a hierarchical DRF allocator.
func New(opts Options) Allocator {
	if opts.MinAllocatable == nil {
		opts.MinAllocatable = DefaultMinAllocatable()
	}
	h := &hierarchical{
		opts:       opts,
		rng:        rand.New(rand.NewSource(opts.Seed)),
		frameworks: map[string]*drfFramework{},
		agents:     map[string]*drfAgent{},
		quota:      map[string]Quota{},
	}
	h.sorter = newSorter(&h.total)
	for role, w := range opts.Weights {
		h.sorter.setWeight(role, w)
	}
	return h
}

func (h *hierarchical) SetWeights(weights map[string]float64) {
	for role, w := range weights {
		if w > 0 {
			h.sorter.setWeight(role, w)
		}
	}
}

func (h *hierarchical) SetQuota(role string, q Quota) {
	if q.Guarantees.IsEmpty() && len(q.Limits) == 0 {
		delete(h.quota, role)
		return
	}
	h.quota[role] = q
}

func (h *hierarchical) AddFramework(id string, fw Framework, used map[string]resources.Resources, active bool) {
	f := &drfFramework{id: id, active: active, suppressed: map[string]bool{}, leaves: map[string]*node{},
		allocated: map[string]resources.Resources{}, refused: map[string]time.Time{}}
	h.frameworks[id] = f
	h.setRoles(f, fw)
	for agentID, r := range used {
		h.Allocated(id, agentID, r)
	}
}

// setRoles attaches the framework to the sorter under each of its roles.
func (h *hierarchical) setRoles(f *drfFramework, fw Framework) {
	f.info = fw
	keep := map[string]bool{}
	for _, role := range fw.Roles {
		keep[role] = true
		if f.leaves[role] == nil {
			f.leaves[role] = h.sorter.addLeaf(f, role)
		}
	}
	for role, l := range f.leaves {
		if !keep[role] {
			h.sorter.removeLeaf(l)
			delete(f.leaves, role)
		}
	}
}

func (h *hierarchical) UpdateFramework(id string, fw Framework) {
	if f := h.frameworks[id]; f != nil {
		h.setRoles(f, fw)
	}
}

func (h *hierarchical) RemoveFramework(id string) {
	f := h.frameworks[id]
	if f == nil {
		return
	}
	for agentID := range f.allocated {
		if a := h.agents[agentID]; a != nil {
			delete(a.allocated, id)
			a.stale = true
		}
	}
	for _, l := range f.leaves {
		h.sorter.removeLeaf(l)
	}
	delete(h.frameworks, id)
}

func (h *hierarchical) ActivateFramework(id string) {
	if f := h.frameworks[id]; f != nil {
		f.active = true
	}
}

func (h *hierarchical) DeactivateFramework(id string) {
	if f := h.frameworks[id]; f != nil {
		f.active = false
	}
}

func (h *hierarchical) SuppressOffers(id string, roles []string) {
	f := h.frameworks[id]
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

func (h *hierarchical) ReviveOffers(id string, roles []string) {
	f := h.frameworks[id]
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

func (h *hierarchical) AddAgent(id string, agent Agent, total resources.Resources, used map[string]resources.Resources) {
	a := &drfAgent{id: id, info: agent, total: total, allocated: map[string]resources.Resources{}, active: true, stale: true}
	h.agents[id] = a
	i := sort.SearchStrings(h.agentIDs, id)
	h.agentIDs = append(h.agentIDs, "")
	copy(h.agentIDs[i+1:], h.agentIDs[i:])
	h.agentIDs[i] = id
	h.total = h.total.Add(total.ScalarQuantities())
	h.sorter.refreshAll()
	for fwID, r := range used {
		h.Allocated(fwID, id, r)
	}
}

func (h *hierarchical) RemoveAgent(id string) {
	a := h.agents[id]
	if a == nil {
		return
	}
	for fwID, r := range a.allocated {
		if f := h.frameworks[fwID]; f != nil {
			h.untrack(f, r)
			delete(f.allocated, id)
		}
	}
	h.total = h.total.Subtract(a.total.ScalarQuantities())
	delete(h.agents, id)
	i := sort.SearchStrings(h.agentIDs, id)
	h.agentIDs = append(h.agentIDs[:i], h.agentIDs[i+1:]...)
	h.sorter.refreshAll()
}

func (h *hierarchical) UpdateAgentTotal(id string, total resources.Resources) {
	if a := h.agents[id]; a != nil {
		h.total = h.total.Subtract(a.total.ScalarQuantities()).Add(total.ScalarQuantities())
		a.total, a.stale = total, true
		h.sorter.refreshAll()
	}
}

func (h *hierarchical) ActivateAgent(id string) {
	if a := h.agents[id]; a != nil {
		a.active = true
	}
}

func (h *hierarchical) DeactivateAgent(id string) {
	if a := h.agents[id]; a != nil {
		a.active = false
	}
}

// track and untrack move a framework's allocation in the sorter, by the
// role each resource is allocated to.
func (h *hierarchical) track(f *drfFramework, res resources.Resources) {
	for role, q := range byRole(res) {
		if l := f.leaves[role]; l != nil {
			h.sorter.add(l, q, +1)
		}
	}
}

func (h *hierarchical) untrack(f *drfFramework, res resources.Resources) {
	for role, q := range byRole(res) {
		if l := f.leaves[role]; l != nil {
			h.sorter.add(l, q, -1)
		}
	}
}

// byRole sums scalar resources by allocation role.
func byRole(res resources.Resources) map[string]resources.Quantities {
	if len(res) > 0 {
		// Most allocations are to one role.
		role, one := res[0].GetAllocationInfo().GetRole(), true
		for _, r := range res[1:] {
			if r.GetAllocationInfo().GetRole() != role {
				one = false
				break
			}
		}
		if one {
			return map[string]resources.Quantities{role: res.ScalarQuantities()}
		}
	}
	out := map[string]resources.Quantities{}
	for _, r := range res {
		if r.GetType() != mesos.Value_SCALAR {
			continue
		}
		role := r.GetAllocationInfo().GetRole()
		out[role] = out[role].Add(resources.Resources{r}.ScalarQuantities())
	}
	return out
}

func (h *hierarchical) Allocated(frameworkID, agentID string, res resources.Resources) {
	f, a := h.frameworks[frameworkID], h.agents[agentID]
	if f == nil || a == nil || res.IsEmpty() {
		return
	}
	h.allocate(f, a, res)
	h.track(f, res)
}

// allocate records res (allocated to roles) as held by f on a; the caller
// tells the sorter.
func (h *hierarchical) allocate(f *drfFramework, a *drfAgent, res resources.Resources) {
	f.allocated[a.id] = addTo(f.allocated[a.id], res)
	a.allocated[f.id] = addTo(a.allocated[f.id], res)
	a.stale = true
}

// addTo returns held+res; resources are immutable, so an empty held is
// replaced by res itself.
func addTo(held, res resources.Resources) resources.Resources {
	if len(held) == 0 {
		return res
	}
	return held.Add(res)
}

func (h *hierarchical) Recover(frameworkID, agentID string, res resources.Resources, now time.Time, refuse time.Duration) {
	f, a := h.frameworks[frameworkID], h.agents[agentID]
	if f == nil || a == nil {
		return
	}
	held := f.allocated[agentID]
	left := held.Subtract(res)
	h.untrack(f, held)
	h.track(f, left)
	if left.IsEmpty() {
		delete(f.allocated, agentID)
		delete(a.allocated, frameworkID)
	} else {
		f.allocated[agentID] = left
		a.allocated[frameworkID] = left
	}
	a.stale = true
	if refuse > 0 {
		f.refused[agentID] = now.Add(refuse)
	}
}

func (h *hierarchical) Allocate(now time.Time) []Allocation {
	ids := append([]string(nil), h.agentIDs...)
	h.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return h.AllocateAgents(now, ids)
}

func (h *hierarchical) AllocateAgents(now time.Time, agentIDs []string) []Allocation {
	c := h.newCycle()
	var out []Allocation
	// Stage 1: roles with unmet guarantees, up to their guarantees.
	if len(c.unmet) > 0 {
		for _, id := range agentIDs {
			out = h.allocateAgent(c, now, id, true, out)
		}
	}
	// Stage 2: everyone, within limits and headroom.
	for _, id := range agentIDs {
		out = h.allocateAgent(c, now, id, false, out)
	}
	return out
}

// allocateAgent offers one agent's free resources, in DRF order.
func (h *hierarchical) allocateAgent(c *cycle, now time.Time, id string, stage1 bool, out []Allocation) []Allocation {
	a := h.agents[id]
	if a == nil || !a.active {
		return out
	}
	for {
		available := a.free()
		if available.IsEmpty() {
			return out
		}
		var offer, candidate resources.Resources
		var q resources.Quantities
		l := h.sorter.find(h.sorter.root, func(l *node) bool {
			f := l.leaf
			if !f.active || f.suppressed[l.role] {
				return false
			}
			if until, ok := f.refused[id]; ok && now.Before(until) {
				return false
			}
			if stage1 && !c.needsGuarantee(l.role) {
				return false
			}
			candidate = available.AllocatableTo(l.role)
			offer = c.fit(l.role, candidate, stage1)
			if offer.IsEmpty() {
				return false
			}
			q = offer.ScalarQuantities()
			return h.allocatable(f, l.role, q)
		})
		if l == nil {
			return out
		}
		// What is left is known without recomputing it from the total:
		// when nothing was held back for quota, it is what the role may
		// not use.
		left := available.Filter(func(r *mesos.Resource) bool { return !resources.AllocatableTo(r, l.role) })
		if len(offer) != len(candidate) || &offer[0] != &candidate[0] { // fit shrank it
			left = available.Subtract(offer)
		}
		offer = offer.Allocate(l.role)
		h.allocate(l.leaf, a, offer)
		h.sorter.add(l, q, +1)
		a.available, a.stale = left, false
		c.allocated(l.role, offer)
		out = append(out, Allocation{FrameworkID: l.leaf.id, AgentID: id, Role: l.role, Resources: offer})
	}
}

// allocatable applies the framework's per-role minimum offer sizes, or the
// global ones.
func (h *hierarchical) allocatable(f *drfFramework, role string, q resources.Quantities) bool {
	mins := h.opts.MinAllocatable
	if m, ok := f.info.MinAllocatable[role]; ok {
		mins = m
	}
	if len(mins) == 0 {
		return true
	}
	for _, min := range mins {
		if q.Contains(min) {
			return true
		}
	}
	return false
}
