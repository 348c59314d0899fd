package resources

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// The offer operations that change resources in place (RESERVE,
// UNRESERVE, CREATE, DESTROY) are conversions: some resources are consumed
// and the same amounts come back with other metadata. Mesos calls them
// ResourceConversions (src/common/resources_utils.cpp).

// Conversion turns Consumed into Converted.
type Conversion struct {
	Consumed  Resources
	Converted Resources
}

// ErrNotContained is returned when resources to convert are not there.
var ErrNotContained = errors.New("resources are not available")

// Apply returns rs with each conversion applied in turn.
func (rs Resources) Apply(convs []Conversion) (Resources, error) {
	out := rs
	for _, c := range convs {
		if !out.Contains(c.Consumed) {
			return nil, fmt.Errorf("%w: %s is not contained in %s", ErrNotContained, c.Consumed, out)
		}
		out = out.Subtract(c.Consumed).Add(c.Converted)
	}
	return out, nil
}

// Upgrade returns r in the post-refinement format: the legacy role and
// reservation fields (Mesos before 1.4) become a reservations stack, as
// Mesos's upgradeResource does. Resources already in that format are
// returned as they are.
func Upgrade(r *mesos.Resource) *mesos.Resource {
	if len(r.GetReservations()) > 0 || ((r.Role == nil || r.GetRole() == "*") && r.Reservation == nil) {
		return r
	}
	n := proto.Clone(r).(*mesos.Resource)
	role := n.GetRole()
	if n.Reservation != nil {
		res := &mesos.Resource_ReservationInfo{
			Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role),
			Principal: n.Reservation.Principal, Labels: n.Reservation.Labels,
		}
		n.Reservations = []*mesos.Resource_ReservationInfo{res}
	} else {
		n.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
	}
	n.Role, n.Reservation = nil, nil
	return n
}

// UpgradeAll applies Upgrade to every resource.
func UpgradeAll(rs []*mesos.Resource) Resources {
	out := make(Resources, 0, len(rs))
	for _, r := range rs {
		out = out.add1(Upgrade(r))
	}
	return out
}

// IsDynamicallyReserved reports whether r's most refined reservation is
// dynamic.
func IsDynamicallyReserved(r *mesos.Resource) bool {
	n := len(r.GetReservations())
	return n > 0 && r.GetReservations()[n-1].GetType() == mesos.Resource_ReservationInfo_DYNAMIC
}

// IsPersistentVolume reports whether r is a persistent volume.
func IsPersistentVolume(r *mesos.Resource) bool {
	return r.GetDisk().GetPersistence() != nil
}

// NeedsCheckpoint reports whether r exists only because of an operation
// (a dynamic reservation or a persistent volume): the agent checkpoints
// such resources and the master keeps them in its registry.
func NeedsCheckpoint(r *mesos.Resource) bool {
	for _, res := range r.GetReservations() {
		if res.GetType() == mesos.Resource_ReservationInfo_DYNAMIC {
			return true
		}
	}
	return IsPersistentVolume(r)
}

// Checkpointed returns the resources of rs that NeedsCheckpoint.
func (rs Resources) Checkpointed() Resources { return rs.Filter(NeedsCheckpoint) }

// PopReservation returns r without its most refined reservation.
func PopReservation(r *mesos.Resource) *mesos.Resource {
	n := proto.Clone(r).(*mesos.Resource)
	if k := len(n.Reservations); k > 0 {
		n.Reservations = n.Reservations[:k-1]
	}
	if len(n.Reservations) == 0 {
		n.Reservations = nil
	}
	return n
}

// StripVolume returns r without its persistence and volume: the disk a
// persistent volume was created from.
func StripVolume(r *mesos.Resource) *mesos.Resource {
	if r.GetDisk() == nil {
		return r
	}
	n := proto.Clone(r).(*mesos.Resource)
	n.Disk.Persistence, n.Disk.Volume = nil, nil
	if n.Disk.Source == nil {
		n.Disk = nil
	}
	n.Shared = nil
	return n
}

// base is what a checkpointed resource was made from: the same amount
// without dynamic reservations or persistence.
func base(r *mesos.Resource) *mesos.Resource {
	n := StripVolume(r)
	for IsDynamicallyReserved(n) {
		n = PopReservation(n)
	}
	return n
}

// ApplyCheckpointed computes an agent's total from its static resources
// (--resources) and its checkpointed ones (dynamic reservations and
// persistent volumes), as Mesos's applyCheckpointedResources does.
func ApplyCheckpointed(static, checkpointed Resources) (Resources, error) {
	convs := make([]Conversion, 0, len(checkpointed))
	for _, c := range checkpointed {
		convs = append(convs, Conversion{Consumed: Resources{base(c)}, Converted: Resources{c}})
	}
	total, err := static.Apply(convs)
	if err != nil {
		return nil, fmt.Errorf("checkpointed resources %s are incompatible with the agent's resources %s: %w", checkpointed, static, err)
	}
	return total, nil
}

// OperationConversions returns what a RESERVE, UNRESERVE, CREATE,
// DESTROY, GROW_VOLUME or SHRINK_VOLUME operation converts (Mesos's getResourceConversions). Resources
// keep their allocation info, so that the conversions apply to offered
// resources as well as to an agent's total.
func OperationConversions(op *mesos.Offer_Operation) ([]Conversion, error) {
	var convs []Conversion
	one := func(from, to *mesos.Resource) {
		convs = append(convs, Conversion{Consumed: Resources{}.add1(from), Converted: Resources{}.add1(to)})
	}
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		for _, r := range op.GetReserve().GetResources() {
			if len(r.GetReservations()) == 0 {
				return nil, fmt.Errorf("resource %s has no reservation", Resources{r})
			}
			one(PopReservation(r), r)
		}
	case mesos.Offer_Operation_UNRESERVE:
		for _, r := range op.GetUnreserve().GetResources() {
			if len(r.GetReservations()) == 0 {
				return nil, fmt.Errorf("resource %s is not reserved", Resources{r})
			}
			one(r, PopReservation(r))
		}
	case mesos.Offer_Operation_CREATE:
		for _, v := range op.GetCreate().GetVolumes() {
			one(StripVolume(v), v)
		}
	case mesos.Offer_Operation_DESTROY:
		for _, v := range op.GetDestroy().GetVolumes() {
			one(v, StripVolume(v))
		}
	case mesos.Offer_Operation_GROW_VOLUME:
		g := op.GetGrowVolume()
		v, add := g.GetVolume(), g.GetAddition()
		if v == nil || add == nil || v.GetType() != mesos.Value_SCALAR || add.GetType() != mesos.Value_SCALAR {
			return nil, errors.New("GROW_VOLUME needs a scalar volume and addition")
		}
		grown := withScalar(v, toFixed(v.GetScalar().GetValue())+toFixed(add.GetScalar().GetValue()))
		convs = append(convs, Conversion{Consumed: Resources{}.add1(v).add1(add), Converted: Resources{}.add1(grown)})
	case mesos.Offer_Operation_SHRINK_VOLUME:
		sh := op.GetShrinkVolume()
		v := sh.GetVolume()
		if v == nil || v.GetType() != mesos.Value_SCALAR || sh.GetSubtract() == nil {
			return nil, errors.New("SHRINK_VOLUME needs a scalar volume and an amount to subtract")
		}
		sub := toFixed(sh.GetSubtract().GetValue())
		left := toFixed(v.GetScalar().GetValue()) - sub
		if sub <= 0 || left <= 0 {
			return nil, fmt.Errorf("SHRINK_VOLUME must subtract more than 0 and less than the volume's %v", v.GetScalar().GetValue())
		}
		freed := withScalar(StripVolume(v), sub)
		convs = append(convs, Conversion{Consumed: Resources{}.add1(v), Converted: Resources{}.add1(withScalar(v, left)).add1(freed)})
	default:
		return nil, fmt.Errorf("%v does not convert resources", op.GetType())
	}
	return convs, nil
}

// withScalar is a copy of r with another scalar value (in thousandths).
func withScalar(r *mesos.Resource, v int64) *mesos.Resource { return withValue(r, &v, nil, nil) }
