package master

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/plateau/plateau/internal/httpapi"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/allocator"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// Quota (Mesos 1.9+): per role, guarantees the allocator meets first and
// limits it never exceeds, set with UPDATE_QUOTA, kept in the registry.

// validateQuota checks a QuotaConfig as Mesos does.
func validateQuota(q *quota.QuotaConfig) error {
	if err := validateRole(q.GetRole()); err != nil {
		return err
	}
	if q.GetRole() == "*" {
		return fmt.Errorf("quota cannot be set for role '*'")
	}
	for name, v := range q.GetGuarantees() {
		if v.GetValue() < 0 {
			return fmt.Errorf("negative guarantee for %q", name)
		}
		if l, ok := q.GetLimits()[name]; ok && l.GetValue() < v.GetValue() {
			return fmt.Errorf("role '%s': the guarantee of %s (%g) is above its limit (%g)", q.GetRole(), name, v.GetValue(), l.GetValue())
		}
	}
	for name, v := range q.GetLimits() {
		if v.GetValue() < 0 {
			return fmt.Errorf("negative limit for %q", name)
		}
	}
	return nil
}

func quantities(m map[string]*mesos.Value_Scalar) resources.Quantities {
	var rs resources.Resources
	for name, v := range m {
		rs = append(rs, &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: v})
	}
	return rs.ScalarQuantities()
}

// setQuota applies quota configs (already recorded). Runs on the loop.
func (m *Master) setQuota(configs []*quota.QuotaConfig) {
	for _, q := range configs {
		if len(q.GetGuarantees()) == 0 && len(q.GetLimits()) == 0 {
			delete(m.quotas, q.GetRole())
		} else {
			m.quotas[q.GetRole()] = q
		}
		m.alloc.SetQuota(q.GetRole(), allocator.Quota{Guarantees: quantities(q.GetGuarantees()), Limits: quantities(q.GetLimits())})
	}
	m.fullCycle = true
}

// updateQuota is UPDATE_QUOTA: validated, made durable, then applied.
func (m *Master) updateQuota(configs []*quota.QuotaConfig) error {
	if len(configs) == 0 {
		return badRequest("Expecting 'update_quota.quota_configs' to be present")
	}
	for _, q := range configs {
		if err := validateQuota(q); err != nil {
			return badRequest("Invalid QuotaConfig: %v", err)
		}
	}
	if err := m.record(&plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateQuota{UpdateQuota: &plateaupb.QuotaUpdate{Configs: configs}}}); err != nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	m.setQuota(configs)
	return nil
}

// quotaStatus is GET_QUOTA's answer. Runs on the loop.
func (m *Master) quotaStatus() *quota.QuotaStatus {
	st := &quota.QuotaStatus{}
	for _, q := range m.quotas {
		st.Configs = append(st.Configs, q)
	}
	sort.Slice(st.Configs, func(i, j int) bool { return st.Configs[i].GetRole() < st.Configs[j].GetRole() })
	return st
}
