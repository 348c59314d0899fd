package master

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

func disk(mb float64, reservations ...*mesos.Resource_ReservationInfo) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(mb)}, Reservations: reservations}
}

func dyn(role, principal string) *mesos.Resource_ReservationInfo {
	return &mesos.Resource_ReservationInfo{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role), Principal: proto.String(principal)}
}

func allocatedTo(r *mesos.Resource, role string) *mesos.Resource {
	r = proto.Clone(r).(*mesos.Resource)
	r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	return r
}

func vol(r *mesos.Resource, id, path string) *mesos.Resource {
	r = proto.Clone(r).(*mesos.Resource)
	r.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume: &mesos.Volume{ContainerPath: proto.String(path), Mode: mesos.Volume_RW.Enum()}}
	return r
}

func TestValidateReserve(t *testing.T) {
	fw := &mesos.FrameworkInfo{Role: proto.String("db")}
	refining := &mesos.FrameworkInfo{Role: proto.String("db/a"), Capabilities: []*mesos.FrameworkInfo_Capability{
		{Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT.Enum()}}}
	tests := []struct {
		name      string
		rs        []*mesos.Resource
		principal string
		fw        *mesos.FrameworkInfo
		err       string
	}{
		{"valid", []*mesos.Resource{allocatedTo(disk(10, dyn("db", "p")), "db")}, "p", fw, ""},
		{"operator", []*mesos.Resource{disk(10, dyn("web", ""))}, "", nil, ""},
		{"nothing", nil, "", fw, "no resources"},
		{"unreserved", []*mesos.Resource{allocatedTo(disk(10), "db")}, "", fw, "not dynamically reserved"},
		{"static", []*mesos.Resource{disk(10, &mesos.Resource_ReservationInfo{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String("db")})}, "", nil, "not dynamically reserved"},
		{"other principal", []*mesos.Resource{allocatedTo(disk(10, dyn("db", "q")), "db")}, "p", fw, "principal 'p'"},
		{"other role", []*mesos.Resource{allocatedTo(disk(10, dyn("web", "")), "db")}, "", fw, "allocated to role 'db'"},
		{"refined without capability", []*mesos.Resource{allocatedTo(disk(10, dyn("db", ""), dyn("db/a", "")), "db/a")}, "", fw, "RESERVATION_REFINEMENT"},
		{"refined", []*mesos.Resource{allocatedTo(disk(10, dyn("db", ""), dyn("db/a", "")), "db/a")}, "", refining, ""},
		{"refined outside the role", []*mesos.Resource{allocatedTo(disk(10, dyn("db", ""), dyn("web", "")), "web")}, "", refining, "not a subrole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, validateReserve(tt.rs, tt.principal, tt.fw), tt.err)
		})
	}
}

func TestValidateUnreserve(t *testing.T) {
	checkErr(t, validateUnreserve([]*mesos.Resource{disk(10, dyn("db", ""))}), "")
	checkErr(t, validateUnreserve([]*mesos.Resource{disk(10)}), "not dynamically reserved")
	checkErr(t, validateUnreserve([]*mesos.Resource{vol(disk(10, dyn("db", "")), "v", "data")}), "destroy it first")
}

func TestValidateCreateAndDestroy(t *testing.T) {
	reserved := disk(10, dyn("db", ""))
	existing := vol(reserved, "v1", "data")
	total := resources.Resources{existing}.Add([]*mesos.Resource{disk(100)})
	tests := []struct {
		name string
		vols []*mesos.Resource
		err  string
	}{
		{"valid", []*mesos.Resource{vol(reserved, "v2", "data")}, ""},
		{"unreserved", []*mesos.Resource{vol(disk(10), "v2", "data")}, "unreserved"},
		{"duplicate id", []*mesos.Resource{vol(reserved, "v1", "other")}, "already used"},
		{"duplicate within the call", []*mesos.Resource{vol(reserved, "v3", "a"), vol(reserved, "v3", "b")}, "already used"},
		{"absolute path", []*mesos.Resource{vol(reserved, "v2", "/data")}, "relative"},
		{"escaping path", []*mesos.Resource{vol(reserved, "v2", "../x")}, "inside the sandbox"},
		{"no persistence", []*mesos.Resource{reserved}, "not a persistent volume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkErr(t, validateCreate(tt.vols, total, ""), tt.err) })
	}
	checkErr(t, validateCreate([]*mesos.Resource{vol(reserved, "v2", "data")}, total, "p"), "principal 'p'")

	used := map[string]resources.Resources{"F1": {allocatedTo(existing, "db")}}
	checkErr(t, validateDestroy([]*mesos.Resource{existing}, total, nil), "")
	checkErr(t, validateDestroy([]*mesos.Resource{existing}, total, used), "in use")
	checkErr(t, validateDestroy([]*mesos.Resource{vol(reserved, "v9", "data")}, total, nil), "does not exist")
	checkErr(t, validateDestroy([]*mesos.Resource{reserved}, total, nil), "not a persistent volume")
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

// FrameworkInfo.offer_filters become the allocator's per-role minimums.
func TestAllocatorFrameworkOfferFilters(t *testing.T) {
	info := &mesos.FrameworkInfo{
		Roles:        []string{"a", "b"},
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
		OfferFilters: map[string]*mesos.OfferFilters{
			"a": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{Quantities: []*mesos.OfferFilters_ResourceQuantities{
				{Quantities: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}}}}}},
			"b": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{}},
		},
	}
	fw := allocatorFramework(info)
	if len(fw.Roles) != 2 || !fw.MultiRole {
		t.Fatalf("roles %v multi-role %v", fw.Roles, fw.MultiRole)
	}
	if a := fw.MinAllocatable["a"]; len(a) != 1 || a[0].Get("cpus") != 2 {
		t.Fatalf("role a minimums %v", a)
	}
	if b, ok := fw.MinAllocatable["b"]; !ok || len(b) != 0 {
		t.Fatalf("role b minimums %v (present: %v), want an empty list", b, ok)
	}
}
