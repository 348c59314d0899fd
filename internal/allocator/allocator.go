// Package allocator decides which frameworks are offered which agents'
// resources. It is a pure core: no goroutines, no I/O, no wall clock. The
// master owns one Allocator, calls it from its own goroutine only, and turns
// the Allocations it returns into offers.
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
	// failover or when an agent re-registers with its tasks).
	AddFramework(id string, fw Framework, used map[string]resources.Resources, active bool)
	// UpdateFramework changes a framework's roles, capabilities or filters.
	UpdateFramework(id string, fw Framework)
	RemoveFramework(id string)
	// ActivateFramework and DeactivateFramework start and stop offers to a
	// framework (a disconnected scheduler is deactivated, not removed).
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
	// task) to the pool. A positive refuse keeps them from that framework
	// on that agent until now+refuse (DECLINE's refuse_seconds).
	Recover(frameworkID, agentID string, res resources.Resources, now time.Time, refuse time.Duration)

	// SetWeights sets roles' weights (--weights, UPDATE_WEIGHTS); a role's
	// share counts for share/weight in DRF.
	SetWeights(weights map[string]float64)
	// SetQuota sets a role's quota; an empty Quota removes it.
	SetQuota(role string, q Quota)

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
	// MultiRole and the other capabilities gate what may be offered.
	MultiRole             bool
	ReservationRefinement bool
	// MinAllocatable holds per-role minimum offer sizes
	// (FrameworkInfo.offer_filters.min_allocatable_resources); an offer for
	// that role is made only when it contains at least one of them.
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
