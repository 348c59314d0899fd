// Package registry keeps the master's durable state: admitted agents,
// frameworks, weights. Changes are typed entries (plateaupb.RegistryEntry)
// applied in order by Apply, a deterministic function, so that the same
// entries can later be replicated with Raft. A Store makes an entry
// durable before the master acknowledges the change that caused it.
package registry

import (
	"context"
	"sort"

	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

// Store holds a registry durably.
type Store interface {
	// Apply makes an entry durable; when it returns nil, the change
	// survives a crash.
	Apply(ctx context.Context, e *plateaupb.RegistryEntry) error
	// Load returns the registry as stored.
	Load() (*plateaupb.Registry, error)
	Close() error
}

// Apply applies an entry to a registry in place. It is deterministic and
// ignores entries it does not know.
func Apply(r *plateaupb.Registry, e *plateaupb.RegistryEntry) {
	switch x := e.GetEntry().(type) {
	case *plateaupb.RegistryEntry_AdmitAgent:
		r.Agents = upsert(r.Agents, x.AdmitAgent, func(a *mesos.AgentInfo) string { return a.GetId().GetValue() })
	case *plateaupb.RegistryEntry_RemoveAgent:
		r.Agents = remove(r.Agents, x.RemoveAgent.GetValue(), func(a *mesos.AgentInfo) string { return a.GetId().GetValue() })
		r.AgentResources = remove(r.AgentResources, x.RemoveAgent.GetValue(), agentResourcesKey)
	case *plateaupb.RegistryEntry_AddFramework:
		r.Frameworks = upsert(r.Frameworks, x.AddFramework, func(f *mesos.FrameworkInfo) string { return f.GetId().GetValue() })
	case *plateaupb.RegistryEntry_RemoveFramework:
		r.Frameworks = remove(r.Frameworks, x.RemoveFramework.GetValue(), func(f *mesos.FrameworkInfo) string { return f.GetId().GetValue() })
	case *plateaupb.RegistryEntry_UpdateQuota:
		for _, q := range x.UpdateQuota.GetConfigs() {
			if len(q.GetGuarantees()) == 0 && len(q.GetLimits()) == 0 {
				r.Quotas = remove(r.Quotas, q.GetRole(), func(q *quota.QuotaConfig) string { return q.GetRole() })
			} else {
				r.Quotas = upsert(r.Quotas, q, func(q *quota.QuotaConfig) string { return q.GetRole() })
			}
		}
	case *plateaupb.RegistryEntry_UpdateWeights:
		for _, w := range x.UpdateWeights.GetWeights() {
			r.Weights = upsert(r.Weights, w, func(w *mesos.WeightInfo) string { return w.GetRole() })
		}
	case *plateaupb.RegistryEntry_UpdateMaintenance:
		r.Maintenance = x.UpdateMaintenance
	case *plateaupb.RegistryEntry_MarkUnreachable:
		r.Unreachable = upsert(r.Unreachable, x.MarkUnreachable, removedKey)
	case *plateaupb.RegistryEntry_MarkGone:
		r.Unreachable = remove(r.Unreachable, removedKey(x.MarkGone), removedKey)
		r.Gone = upsert(r.Gone, x.MarkGone, removedKey)
	case *plateaupb.RegistryEntry_MarkReachable:
		r.Unreachable = remove(r.Unreachable, x.MarkReachable.GetValue(), removedKey)
	case *plateaupb.RegistryEntry_ForgetAgents:
		for _, id := range x.ForgetAgents.GetAgentIds() {
			r.Unreachable = remove(r.Unreachable, id.GetValue(), removedKey)
			r.Gone = remove(r.Gone, id.GetValue(), removedKey)
		}
	case *plateaupb.RegistryEntry_UpdateAgentResources:
		if len(x.UpdateAgentResources.GetResources()) == 0 {
			r.AgentResources = remove(r.AgentResources, agentResourcesKey(x.UpdateAgentResources), agentResourcesKey)
		} else {
			r.AgentResources = upsert(r.AgentResources, x.UpdateAgentResources, agentResourcesKey)
		}
	}
}

func agentResourcesKey(a *plateaupb.AgentResources) string { return a.GetAgentId().GetValue() }

func removedKey(a *plateaupb.RemovedAgent) string { return a.GetAgentId().GetValue() }

func upsert[T proto.Message](list []T, v T, key func(T) string) []T {
	k := key(v)
	i := sort.Search(len(list), func(i int) bool { return key(list[i]) >= k })
	if i < len(list) && key(list[i]) == k {
		list[i] = v
		return list
	}
	var zero T
	list = append(list, zero)
	copy(list[i+1:], list[i:])
	list[i] = v
	return list
}

func remove[T any](list []T, k string, key func(T) string) []T {
	i := sort.Search(len(list), func(i int) bool { return key(list[i]) >= k })
	if i < len(list) && key(list[i]) == k {
		return append(list[:i], list[i+1:]...)
	}
	return list
}

// Memory is a Store that forgets everything when the process ends (a
// master without --work_dir).
type Memory struct{ reg plateaupb.Registry }

func (m *Memory) Apply(_ context.Context, e *plateaupb.RegistryEntry) error {
	Apply(&m.reg, e)
	return nil
}

func (m *Memory) Load() (*plateaupb.Registry, error) {
	return proto.Clone(&m.reg).(*plateaupb.Registry), nil
}

func (m *Memory) Close() error { return nil }
