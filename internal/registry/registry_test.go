package registry

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

func entries() []*plateaupb.RegistryEntry {
	agent := func(id string) *plateaupb.RegistryEntry {
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_AdmitAgent{AdmitAgent: &mesos.AgentInfo{
			Id: &mesos.AgentID{Value: proto.String(id)}, Hostname: proto.String("h-" + id)}}}
	}
	fw := func(id string) *plateaupb.RegistryEntry {
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_AddFramework{AddFramework: &mesos.FrameworkInfo{
			Id: &mesos.FrameworkID{Value: proto.String(id)}, User: proto.String("u"), Name: proto.String(id)}}}
	}
	weights := func(role string, w float64) *plateaupb.RegistryEntry {
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateWeights{UpdateWeights: &plateaupb.WeightsUpdate{
			Weights: []*mesos.WeightInfo{{Role: proto.String(role), Weight: proto.Float64(w)}}}}}
	}
	quotaEntry := func(role string, cpus float64) *plateaupb.RegistryEntry {
		q := &quota.QuotaConfig{Role: proto.String(role)}
		if cpus > 0 {
			q.Guarantees = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(cpus)}}
		}
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateQuota{UpdateQuota: &plateaupb.QuotaUpdate{Configs: []*quota.QuotaConfig{q}}}}
	}
	volumes := func(agentID string, ids ...string) *plateaupb.RegistryEntry {
		ar := &plateaupb.AgentResources{AgentId: &mesos.AgentID{Value: proto.String(agentID)}}
		for _, id := range ids {
			ar.Resources = append(ar.Resources, volume(id))
		}
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_UpdateAgentResources{UpdateAgentResources: ar}}
	}
	removed := func(kind, id string) *plateaupb.RegistryEntry {
		a := &plateaupb.RemovedAgent{AgentId: &mesos.AgentID{Value: proto.String(id)}, Time: &mesos.TimeInfo{Nanoseconds: proto.Int64(7)}}
		if kind == "gone" {
			return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_MarkGone{MarkGone: a}}
		}
		return &plateaupb.RegistryEntry{Entry: &plateaupb.RegistryEntry_MarkUnreachable{MarkUnreachable: a}}
	}
	return []*plateaupb.RegistryEntry{
		agent("S1"), agent("S0"), agent("S2"), fw("F1"), fw("F0"),
		{Entry: &plateaupb.RegistryEntry_RemoveAgent{RemoveAgent: &mesos.AgentID{Value: proto.String("S1")}}},
		{Entry: &plateaupb.RegistryEntry_RemoveFramework{RemoveFramework: &mesos.FrameworkID{Value: proto.String("F0")}}},
		weights("prod", 3), weights("dev", 1), weights("prod", 2),
		quotaEntry("prod", 4), quotaEntry("dev", 1), quotaEntry("dev", 0),
		volumes("S0", "v1"), volumes("S2", "v2"), volumes("S0"),
		{Entry: &plateaupb.RegistryEntry_RemoveAgent{RemoveAgent: &mesos.AgentID{Value: proto.String("S3")}}},
		volumes("S3", "v3"), agent("S3"),
		{Entry: &plateaupb.RegistryEntry_UpdateMaintenance{UpdateMaintenance: &plateaupb.MaintenanceUpdate{
			DownMachines: []*mesos.MachineID{{Hostname: proto.String("old")}}}}},
		{Entry: &plateaupb.RegistryEntry_UpdateMaintenance{UpdateMaintenance: &plateaupb.MaintenanceUpdate{
			DownMachines: []*mesos.MachineID{{Hostname: proto.String("h1")}}}}},
		removed("unreachable", "U1"), removed("unreachable", "U2"), removed("unreachable", "U3"), removed("gone", "G1"),
		removed("gone", "U2"), // U2 no longer unreachable: gone
		{Entry: &plateaupb.RegistryEntry_MarkReachable{MarkReachable: &mesos.AgentID{Value: proto.String("U3")}}},
		{Entry: &plateaupb.RegistryEntry_ForgetAgents{ForgetAgents: &plateaupb.ForgetAgents{AgentIds: []*mesos.AgentID{{Value: proto.String("G1")}}}}},
		{Entry: &plateaupb.RegistryEntry_RemoveAgent{RemoveAgent: &mesos.AgentID{Value: proto.String("S3")}}},
		{}, // an entry this version does not know is ignored
	}
}

func TestApply(t *testing.T) {
	var reg plateaupb.Registry
	for _, e := range entries() {
		Apply(&reg, e)
	}
	want := &plateaupb.Registry{
		Agents: []*mesos.AgentInfo{
			{Id: &mesos.AgentID{Value: proto.String("S0")}, Hostname: proto.String("h-S0")},
			{Id: &mesos.AgentID{Value: proto.String("S2")}, Hostname: proto.String("h-S2")},
		},
		Frameworks: []*mesos.FrameworkInfo{{Id: &mesos.FrameworkID{Value: proto.String("F1")}, User: proto.String("u"), Name: proto.String("F1")}},
		Weights: []*mesos.WeightInfo{
			{Role: proto.String("dev"), Weight: proto.Float64(1)},
			{Role: proto.String("prod"), Weight: proto.Float64(2)},
		},
		Quotas:         []*quota.QuotaConfig{{Role: proto.String("prod"), Guarantees: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(4)}}}},
		AgentResources: []*plateaupb.AgentResources{{AgentId: &mesos.AgentID{Value: proto.String("S2")}, Resources: []*mesos.Resource{volume("v2")}}},
		Maintenance:    &plateaupb.MaintenanceUpdate{DownMachines: []*mesos.MachineID{{Hostname: proto.String("h1")}}},
		Unreachable:    []*plateaupb.RemovedAgent{{AgentId: &mesos.AgentID{Value: proto.String("U1")}, Time: &mesos.TimeInfo{Nanoseconds: proto.Int64(7)}}},
		Gone:           []*plateaupb.RemovedAgent{{AgentId: &mesos.AgentID{Value: proto.String("U2")}, Time: &mesos.TimeInfo{Nanoseconds: proto.Int64(7)}}},
	}
	if !proto.Equal(&reg, want) {
		t.Fatalf("registry %v\nwant %v", &reg, want)
	}
}

// Every store gives back what Apply computes, and the bolt store keeps it
// across reopening.
func TestStores(t *testing.T) {
	var want plateaupb.Registry
	for _, e := range entries() {
		Apply(&want, e)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"memory": &Memory{}, "bolt": b} {
		for _, e := range entries() {
			if err := s.Apply(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Load()
		if err != nil || !proto.Equal(got, &want) {
			t.Fatalf("%s: Load = %v, %v\nwant %v", name, got, err, &want)
		}
	}
	b.Close()
	reopened, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	got, err := reopened.Load()
	if err != nil || !proto.Equal(got, &want) {
		t.Fatalf("after reopening: %v, %v", got, err)
	}
}

// volume is a persistent volume of 64 MB reserved for role "db".
func volume(id string) *mesos.Resource {
	return &mesos.Resource{
		Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(64)},
		Reservations: []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("db")}},
		Disk: &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
			Volume: &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()}},
	}
}
