package resources

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

func reservedFor(r *mesos.Resource, role string, typ mesos.Resource_ReservationInfo_Type) *mesos.Resource {
	n := proto.Clone(r).(*mesos.Resource)
	n.Reservations = append(n.Reservations, &mesos.Resource_ReservationInfo{Type: typ.Enum(), Role: proto.String(role)})
	return n
}

func volumeOf(r *mesos.Resource, id string) *mesos.Resource {
	n := proto.Clone(r).(*mesos.Resource)
	n.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume: &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()}}
	return n
}

func TestReserveCreateDestroyUnreserve(t *testing.T) {
	total := mustParse(t, "cpus:4;disk:1000")
	disk := mustParse(t, "disk:100")[0]
	reserved := reservedFor(disk, "db", mesos.Resource_ReservationInfo_DYNAMIC)
	vol := volumeOf(reserved, "v1")

	steps := []struct {
		op   *mesos.Offer_Operation
		want string
	}{
		{&mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Reserve: &mesos.Offer_Operation_Reserve{Resources: []*mesos.Resource{reserved}}},
			"cpus:4; disk:900; disk(db):100"},
		{&mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{vol}}},
			"cpus:4; disk:900; disk(db)[v1:data]:100"},
		{&mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(), Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{vol}}},
			"cpus:4; disk:900; disk(db):100"},
		{&mesos.Offer_Operation{Type: mesos.Offer_Operation_UNRESERVE.Enum(), Unreserve: &mesos.Offer_Operation_Unreserve{Resources: []*mesos.Resource{reserved}}},
			"cpus:4; disk:1000"},
	}
	for _, step := range steps {
		convs, err := OperationConversions(step.op)
		if err != nil {
			t.Fatal(err)
		}
		if total, err = total.Apply(convs); err != nil {
			t.Fatalf("%v: %v", step.op.GetType(), err)
		}
		if total.String() != step.want {
			t.Fatalf("after %v: %s, want %s", step.op.GetType(), total, step.want)
		}
	}
	// Destroying a volume that is not there fails and changes nothing.
	convs, _ := OperationConversions(steps[2].op)
	if _, err := total.Apply(convs); !errors.Is(err, ErrNotContained) {
		t.Fatalf("destroying a missing volume: %v", err)
	}
}

func TestApplyCheckpointed(t *testing.T) {
	static := mustParse(t, "cpus:4;disk:1000;cpus(web):1")
	disk := mustParse(t, "disk:100")[0]
	vol := volumeOf(reservedFor(disk, "db", mesos.Resource_ReservationInfo_DYNAMIC), "v1")
	cpu := reservedFor(mustParse(t, "cpus:1")[0], "web/api", mesos.Resource_ReservationInfo_DYNAMIC)
	cpu.Reservations = append([]*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String("web")}}, cpu.Reservations...)
	total, err := ApplyCheckpointed(static, Resources{vol, cpu})
	if err != nil {
		t.Fatal(err)
	}
	if got := total.String(); got != "cpus:4; disk:900; disk(db)[v1:data]:100; cpus(web/api):1" {
		t.Fatalf("total %s", got)
	}
	if got := total.Checkpointed(); !got.Equal(Resources{vol, cpu}) {
		t.Fatalf("checkpointed %s", got)
	}
	// A checkpoint that the static resources cannot hold is an error.
	if _, err := ApplyCheckpointed(mustParse(t, "cpus:4;disk:50"), Resources{vol}); err == nil {
		t.Fatal("a 100 MB volume applied to 50 MB of disk")
	}
}

// A persistent volume allocated to a role is the same volume as the
// unallocated one in an agent's total: subtracting it leaves nothing (the
// allocator must not offer a volume in use).
func TestVolumeSubtractAllocated(t *testing.T) {
	vol := volumeOf(reservedFor(mustParse(t, "disk:64")[0], "db", mesos.Resource_ReservationInfo_DYNAMIC), "v1")
	total := Resources{vol}.Add(mustParse(t, "cpus:1"))
	allocated := Resources{vol}.Allocate("db")
	if free := total.SubtractAllocated(allocated); !free.Equal(mustParse(t, "cpus:1")) {
		t.Fatalf("free %s, want cpus:1", free)
	}
	// Volumes are never merged: two with different ids stay two.
	other := volumeOf(vol, "v2")
	if got := (Resources{vol}).Add(Resources{other}); len(got) != 2 {
		t.Fatalf("two volumes merged: %s", got)
	}
}

func TestUpgradeLegacyReservations(t *testing.T) {
	legacy := &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)},
		Role: proto.String("db"), Reservation: &mesos.Resource_ReservationInfo{Principal: proto.String("p")}}
	up := Upgrade(legacy)
	if len(up.Reservations) != 1 || up.Reservations[0].GetType() != mesos.Resource_ReservationInfo_DYNAMIC ||
		up.Reservations[0].GetRole() != "db" || up.Reservations[0].GetPrincipal() != "p" || up.Role != nil || up.Reservation != nil {
		t.Fatalf("upgraded %v", up)
	}
	static := &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)}, Role: proto.String("db")}
	if up := Upgrade(static); up.Reservations[0].GetType() != mesos.Resource_ReservationInfo_STATIC {
		t.Fatalf("upgraded %v", up)
	}
	if legacy.Reservations != nil {
		t.Fatal("Upgrade changed its argument")
	}
}

func TestGrowAndShrinkVolume(t *testing.T) {
	reserved := reservedFor(mustParse(t, "disk:100")[0], "db", mesos.Resource_ReservationInfo_DYNAMIC)
	vol := volumeOf(reservedFor(mustParse(t, "disk:64")[0], "db", mesos.Resource_ReservationInfo_DYNAMIC), "v1")
	total := Resources{vol}.Add(Resources{reserved})
	add := reservedFor(mustParse(t, "disk:36")[0], "db", mesos.Resource_ReservationInfo_DYNAMIC)
	convs, err := OperationConversions(&mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: vol, Addition: add}})
	if err != nil {
		t.Fatal(err)
	}
	if total, err = total.Apply(convs); err != nil {
		t.Fatal(err)
	}
	if got := total.String(); got != "disk(db):64; disk(db)[v1:data]:100" {
		t.Fatalf("after GROW_VOLUME: %s", got)
	}
	grown := total[1]
	convs, err = OperationConversions(&mesos.Offer_Operation{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
		ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: grown, Subtract: &mesos.Value_Scalar{Value: proto.Float64(90)}}})
	if err != nil {
		t.Fatal(err)
	}
	if total, err = total.Apply(convs); err != nil {
		t.Fatal(err)
	}
	if got := total.String(); got != "disk(db):154; disk(db)[v1:data]:10" {
		t.Fatalf("after SHRINK_VOLUME: %s", got)
	}
	if _, err := OperationConversions(&mesos.Offer_Operation{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
		ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: grown, Subtract: &mesos.Value_Scalar{Value: proto.Float64(100)}}}); err == nil {
		t.Fatal("shrinking a volume to nothing was accepted")
	}
}
