// Package allocator decides which frameworks are offered which agents'
// resources. It is a pure core: no goroutines, no I/O, no wall clock. The
// master owns one Allocator, calls it from its own goroutine only, and turns
// the Allocations it returns into offers.
//
// New returns Mesos 1.11's hierarchical DRF allocator: roles form a tree
// ("eng", "eng/web"), siblings are ordered by weighted dominant share, the
// frameworks of a role by their own dominant share; quota guarantees are
// met first, limits are never exceeded, and enough unallocated resources
// are held back that every role's unmet guarantee can still be met. See
// docs/design for the notes and sorter.go for how a cycle stays cheap.
package allocator

import (
	"time"

	"github.com/plateau/plateau/internal/resources"
)

// Allocator is the contract between the master and an allocation policy.
// Implementations are not safe for concurrent use: the master serialises all
// calls. Every method that takes a time is given the master's clock reading,
// so decisions are reproducible in tests.
type Allocator interface {
	// AddFramework admits a framework subscribed with the given roles. used
	// holds what it already runs, keyed by agent ID (non-empty after a master
	// failover or when an agent re-registers with its tasks). Resources an
	// agent was added with for this framework are not counted twice.
	AddFramework(id string, fw Framework, used map[string]resources.Resources, active bool)
	// UpdateFramework changes a framework's roles, capabilities or filters.
	UpdateFramework(id string, fw Framework)
	RemoveFramework(id string)
	// ActivateFramework and DeactivateFramework start and stop offers to a
	// framework (a disconnected scheduler is deactivated, not removed).
	// Deactivating clears the framework's refusal filters, as in Mesos.
	ActivateFramework(id string)
	DeactivateFramework(id string)
	// SuppressOffers stops offers to a framework for the given roles (all
	// its roles when roles is empty); ReviveOffers resumes them and clears
	// the framework's refusal filters for those roles.
	SuppressOffers(id string, roles []string)
	ReviveOffers(id string, roles []string)

	// AddAgent admits an agent with its total resources and what frameworks
	// already use on it, keyed by framework ID.
	AddAgent(id string, agent Agent, total resources.Resources, used map[string]resources.Resources)
	// RemoveAgent forgets an agent, what runs on it and the refusal
	// filters that name it.
	RemoveAgent(id string)
	// UpdateAgentTotal replaces an agent's total resources (for example
	// after a reservation changed them).
	UpdateAgentTotal(id string, total resources.Resources)
	// ActivateAgent and DeactivateAgent resume and stop offers of an agent.
	ActivateAgent(id string)
	DeactivateAgent(id string)

	// Allocated records that a framework now uses resources on an agent
	// outside of an offer cycle (for example a task group relaunched after
	// failover). Offers returned by Allocate are already recorded.
	Allocated(frameworkID, agentID string, res resources.Resources)
	// Recover returns resources a framework held on an agent (a declined or
	// rescinded offer, the unused part of an accepted offer, a finished
	// task) to the pool. A positive refuse keeps resources the recovered
	// ones contain from that framework, in their allocation role, on that
	// agent until now+refuse (DECLINE's refuse_seconds, capped at 365
	// days); an offer holding more than was refused is not filtered.
	Recover(frameworkID, agentID string, res resources.Resources, now time.Time, refuse time.Duration)

	// SetWeights sets roles' weights (--weights, UPDATE_WEIGHTS); roles not
	// named keep theirs. A role's share counts for share/weight in DRF.
	// Weights that are not positive are ignored.
	SetWeights(weights map[string]float64)
	// SetQuota sets a role's quota; an empty Quota removes it. As in Mesos,
	// only top-level roles take quota (ErrNestedQuota); a role's quota
	// governs its whole subtree.
	SetQuota(role string, q Quota) error

	// Allocate runs one allocation cycle over every agent and returns the
	// resources it hands out. They count as allocated until recovered.
	Allocate(now time.Time) []Allocation
	// AllocateAgents runs a cycle restricted to the given agents (the ones
	// whose resources were just freed), which is what keeps event-driven
	// allocation cheap.
	AllocateAgents(now time.Time, agentIDs []string) []Allocation
}

// Framework is what the allocator needs to know about a framework.
type Framework struct {
	// Roles the framework is subscribed with (never empty: "*" by default).
	Roles []string
	// MultiRole is informational: every framework may hold several roles.
	MultiRole bool
	// ReservationRefinement: without it, resources whose reservation was
	// refined (reserved for a role, then for a sub-role) are not offered.
	ReservationRefinement bool
	// RevocableResources and SharedResources: without them, revocable and
	// shared resources are not offered (Mesos's capabilities of the same
	// names).
	RevocableResources bool
	SharedResources    bool
	// GPUResources: with Options.FilterGPUResources, agents that have GPUs
	// are offered only to frameworks with this capability.
	GPUResources bool
	// MinAllocatable holds per-role minimum offer sizes
	// (FrameworkInfo.offer_filters.min_allocatable_resources); an offer for
	// that role is made only when it contains at least one of them. A role
	// present with no quantities accepts any offer; a role absent uses
	// Options.MinAllocatable.
	MinAllocatable map[string][]resources.Quantities
}

// Agent is what the allocator needs to know about an agent.
type Agent struct {
	Hostname string
}

// Allocation hands resources of one agent to one framework for one role.
// Resources carry AllocationInfo.role set to Role.
type Allocation struct {
	FrameworkID string
	AgentID     string
	Role        string
	Resources   resources.Resources
}

// Quota is a role's guarantee and limit (Mesos 1.9+ semantics). A name
// missing from Limits is not limited; a name missing from Guarantees is
// not guaranteed. Consumption is what the role and its sub-roles are
// offered or allocated of unreserved non-revocable resources, plus every
// reservation for them, allocated or not.
type Quota struct {
	Guarantees resources.Quantities
	Limits     resources.Quantities
}

// IsEmpty reports whether q is the default quota: no guarantee, no limit.
func (q Quota) IsEmpty() bool { return q.Guarantees.IsEmpty() && len(q.Limits) == 0 }
