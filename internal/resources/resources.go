// Package resources is Mesos's resource arithmetic (include/mesos/v1/
// resources.hpp) over the mesos.v1 Resource type: normalized sums of
// scalars, ranges and sets that keep reservations, disk info, revocability
// and allocation apart, with Mesos's fixed-point scalar arithmetic.
//
// A Resources value is never mutated once built: every operation returns a
// new slice and never changes the *mesos.Resource values it shares.
package resources

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Resources is a normalized collection: no two entries are addable (same
// name, type and metadata), and no entry is empty.
type Resources []*mesos.Resource

// Scalars are fixed-point with three decimal places, as in Mesos
// (src/common/values.cpp), so that 0.1 + 0.2 == 0.3.
func toFixed(v float64) int64   { return int64(math.Round(v * 1000)) }
func fromFixed(v int64) float64 { return float64(v) / 1000 }

// addable reports whether a and b differ only in their values, so that
// they can be added into one entry.
func addable(a, b *mesos.Resource) bool {
	if a.GetAllocationInfo().GetRole() != b.GetAllocationInfo().GetRole() ||
		(a.AllocationInfo == nil) != (b.AllocationInfo == nil) {
		return false
	}
	return addableIgnoringAllocation(a, b)
}

// addableIgnoringAllocation is addable for resources that may be
// allocated to different roles.
func addableIgnoringAllocation(a, b *mesos.Resource) bool {
	if a.GetName() != b.GetName() || a.GetType() != b.GetType() {
		return false
	}
	if (a.Revocable == nil) != (b.Revocable == nil) || (a.Shared == nil) != (b.Shared == nil) {
		return false
	}
	if a.GetProviderId().GetValue() != b.GetProviderId().GetValue() {
		return false
	}
	if len(a.Reservations) != len(b.Reservations) {
		return false
	}
	for i := range a.Reservations {
		if !proto.Equal(a.Reservations[i], b.Reservations[i]) {
			return false
		}
	}
	if (a.Disk == nil) != (b.Disk == nil) || (a.Disk != nil && !proto.Equal(a.Disk, b.Disk)) {
		return false
	}
	// Persistent volumes and shared resources are never merged or split:
	// they match only when their values are equal too (their metadata
	// already is).
	if a.GetDisk().GetPersistence() != nil || a.Shared != nil {
		return proto.Equal(a.Revocable, b.Revocable) && proto.Equal(a.Shared, b.Shared) &&
			proto.Equal(a.Scalar, b.Scalar) && proto.Equal(a.Ranges, b.Ranges) && proto.Equal(a.Set, b.Set)
	}
	return true
}

// isEmpty reports whether a resource holds nothing.
func isEmpty(r *mesos.Resource) bool {
	switch r.GetType() {
	case mesos.Value_SCALAR:
		return toFixed(r.GetScalar().GetValue()) == 0
	case mesos.Value_RANGES:
		return len(r.GetRanges().GetRange()) == 0
	case mesos.Value_SET:
		return len(r.GetSet().GetItem()) == 0
	}
	return true
}

// withValue returns a copy of r's metadata with another value.
func withValue(r *mesos.Resource, scalar *int64, ranges []*mesos.Value_Range, set []string) *mesos.Resource {
	n := &mesos.Resource{
		Name: r.Name, Type: r.Type, Reservations: r.Reservations, Disk: r.Disk, Revocable: r.Revocable,
		Shared: r.Shared, AllocationInfo: r.AllocationInfo, ProviderId: r.ProviderId, Role: r.Role, Reservation: r.Reservation,
	}
	switch r.GetType() {
	case mesos.Value_SCALAR:
		n.Scalar = &mesos.Value_Scalar{Value: proto.Float64(fromFixed(*scalar))}
	case mesos.Value_RANGES:
		n.Ranges = &mesos.Value_Ranges{Range: ranges}
	case mesos.Value_SET:
		n.Set = &mesos.Value_Set{Item: set}
	}
	return n
}

// plus returns a+b for addable resources.
func plus(a, b *mesos.Resource) *mesos.Resource {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		v := toFixed(a.GetScalar().GetValue()) + toFixed(b.GetScalar().GetValue())
		return withValue(a, &v, nil, nil)
	case mesos.Value_RANGES:
		return withValue(a, nil, coalesce(append(append([]*mesos.Value_Range{}, a.GetRanges().GetRange()...), b.GetRanges().GetRange()...)), nil)
	default:
		return withValue(a, nil, nil, unionSet(a.GetSet().GetItem(), b.GetSet().GetItem()))
	}
}

// minus returns a-b for addable resources where a contains b.
func minus(a, b *mesos.Resource) *mesos.Resource {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		v := toFixed(a.GetScalar().GetValue()) - toFixed(b.GetScalar().GetValue())
		if v < 0 {
			v = 0
		}
		return withValue(a, &v, nil, nil)
	case mesos.Value_RANGES:
		return withValue(a, nil, subtractRanges(a.GetRanges().GetRange(), b.GetRanges().GetRange()), nil)
	default:
		return withValue(a, nil, nil, subtractSet(a.GetSet().GetItem(), b.GetSet().GetItem()))
	}
}

// contains reports whether a holds at least b (addable resources).
func contains(a, b *mesos.Resource) bool {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		return toFixed(a.GetScalar().GetValue()) >= toFixed(b.GetScalar().GetValue())
	case mesos.Value_RANGES:
		return rangesContain(a.GetRanges().GetRange(), b.GetRanges().GetRange())
	default:
		have := map[string]bool{}
		for _, s := range a.GetSet().GetItem() {
			have[s] = true
		}
		for _, s := range b.GetSet().GetItem() {
			if !have[s] {
				return false
			}
		}
		return true
	}
}

// Add returns rs + other.
func (rs Resources) Add(other []*mesos.Resource) Resources {
	out := make(Resources, len(rs), len(rs)+len(other))
	copy(out, rs)
	for _, r := range other {
		out = out.add1(r)
	}
	return out
}

// Sum is Resources(nil).Add(rs) for long lists (a framework's thousands
// of tasks): scalars are summed in fixed point and each entry is built
// once, not once per addition.
func Sum(rs []*mesos.Resource) Resources {
	var out Resources
	var fixed []int64 // the scalar entries' totals, by index in out
	var added []int   // how many resources each entry sums
	for _, r := range rs {
		if isEmpty(r) {
			continue
		}
		i := slices.IndexFunc(out, func(have *mesos.Resource) bool { return addable(have, r) })
		switch {
		case i < 0:
			out, fixed, added = append(out, normalized(r)), append(fixed, toFixed(r.GetScalar().GetValue())), append(added, 1)
		case r.GetType() == mesos.Value_SCALAR:
			fixed[i] += toFixed(r.GetScalar().GetValue())
			added[i]++
		default:
			out[i] = plus(out[i], r)
		}
	}
	for i, r := range out {
		if r.GetType() == mesos.Value_SCALAR && added[i] > 1 {
			out[i] = withValue(r, &fixed[i], nil, nil)
		}
	}
	return out
}

func (rs Resources) add1(r *mesos.Resource) Resources {
	if isEmpty(r) {
		return rs
	}
	for i, have := range rs {
		if addable(have, r) {
			rs[i] = plus(have, r)
			return rs
		}
	}
	return append(rs, normalized(r))
}

// normalized returns r with coalesced ranges and de-duplicated sets.
func normalized(r *mesos.Resource) *mesos.Resource {
	switch r.GetType() {
	case mesos.Value_RANGES:
		return withValue(r, nil, coalesce(append([]*mesos.Value_Range{}, r.GetRanges().GetRange()...)), nil)
	case mesos.Value_SET:
		return withValue(r, nil, nil, unionSet(nil, r.GetSet().GetItem()))
	}
	return r
}

// Subtract returns rs - other. Parts of other that rs does not hold are
// ignored; scalars never go below zero.
func (rs Resources) Subtract(other []*mesos.Resource) Resources {
	return rs.subtract(other, addable)
}

// SubtractAllocated returns rs - other where rs is unallocated and other
// is the same resources allocated to roles: allocation info is ignored,
// and nothing is copied to drop it.
func (rs Resources) SubtractAllocated(other []*mesos.Resource) Resources {
	return rs.subtract(other, addableIgnoringAllocation)
}

func (rs Resources) subtract(other []*mesos.Resource, matches func(a, b *mesos.Resource) bool) Resources {
	out := make(Resources, len(rs))
	copy(out, rs)
	for _, r := range other {
		for i, have := range out {
			if matches(have, r) {
				left := minus(have, r)
				if isEmpty(left) {
					out = append(out[:i], out[i+1:]...)
				} else {
					out[i] = left
				}
				break
			}
		}
	}
	return out
}

// Contains reports whether rs holds all of other.
func (rs Resources) Contains(other []*mesos.Resource) bool {
	remaining := rs
	for _, r := range other {
		if isEmpty(r) {
			continue
		}
		found := false
		for _, have := range remaining {
			if addable(have, r) {
				if !contains(have, r) {
					return false
				}
				found = true
				break
			}
		}
		if !found {
			return false
		}
		remaining = remaining.Subtract([]*mesos.Resource{r})
	}
	return true
}

// IsEmpty reports whether rs holds nothing.
func (rs Resources) IsEmpty() bool {
	for _, r := range rs {
		if !isEmpty(r) {
			return false
		}
	}
	return true
}

// Equal reports whether rs and other hold the same resources.
func (rs Resources) Equal(other []*mesos.Resource) bool {
	return rs.Contains(other) && Resources(other).Contains(rs)
}

// Filter returns the resources for which keep is true.
func (rs Resources) Filter(keep func(*mesos.Resource) bool) Resources {
	var out Resources
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Scalar is the total of a scalar resource, whatever its metadata.
func (rs Resources) Scalar(name string) float64 {
	var v int64
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			v += toFixed(r.GetScalar().GetValue())
		}
	}
	return fromFixed(v)
}

// Ranges is the union of a ranges resource, whatever its metadata.
func (rs Resources) Ranges(name string) []*mesos.Value_Range {
	var out []*mesos.Value_Range
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_RANGES {
			out = append(out, r.GetRanges().GetRange()...)
		}
	}
	return coalesce(out)
}

// ReservationRole is the role a resource is reserved for ("*" when it is
// unreserved): the last, most refined reservation's.
func ReservationRole(r *mesos.Resource) string {
	if n := len(r.GetReservations()); n > 0 {
		return r.GetReservations()[n-1].GetRole()
	}
	if r.Role != nil && r.GetRole() != "*" {
		return r.GetRole() // pre-refinement format
	}
	return "*"
}

// IsReserved reports whether r is reserved for some role.
func IsReserved(r *mesos.Resource) bool { return ReservationRole(r) != "*" }

// IsSubrole reports whether role is ancestor or one of its descendants
// (eng/web is a subrole of eng).
func IsSubrole(role, ancestor string) bool {
	return role == ancestor || strings.HasPrefix(role, ancestor+"/")
}

// AllocatableTo returns the resources a framework in role may be offered:
// unreserved ones and those reserved for role or one of its ancestors.
func (rs Resources) AllocatableTo(role string) Resources {
	return rs.Filter(func(r *mesos.Resource) bool { return AllocatableTo(r, role) })
}

// AllocatableTo reports whether r may be offered to role: it is
// unreserved or reserved for role or one of its ancestors.
func AllocatableTo(r *mesos.Resource, role string) bool {
	rr := ReservationRole(r)
	return rr == "*" || IsSubrole(role, rr)
}

// Unreserved returns the unreserved resources.
func (rs Resources) Unreserved() Resources {
	return rs.Filter(func(r *mesos.Resource) bool { return !IsReserved(r) })
}

// Allocate returns rs marked as allocated to role. The copies share
// everything but their allocation info with rs (nothing is mutated), which
// keeps an allocation cycle cheap.
func (rs Resources) Allocate(role string) Resources {
	out := make(Resources, 0, len(rs))
	info := &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	for _, r := range rs {
		// rs is normalized, and allocating all of it to one role keeps
		// it so: no entry can merge with another.
		out = append(out, withAllocation(r, info))
	}
	return out
}

// withAllocation is a shallow copy of r with other allocation info.
func withAllocation(r *mesos.Resource, info *mesos.Resource_AllocationInfo) *mesos.Resource {
	return &mesos.Resource{
		Name: r.Name, Type: r.Type, Scalar: r.Scalar, Ranges: r.Ranges, Set: r.Set, Role: r.Role, Reservation: r.Reservation,
		Reservations: r.Reservations, Disk: r.Disk, Revocable: r.Revocable, Shared: r.Shared, ProviderId: r.ProviderId,
		AllocationInfo: info,
	}
}

// Unallocate returns rs without allocation info.
func (rs Resources) Unallocate() Resources {
	out := make(Resources, 0, len(rs))
	for _, r := range rs {
		out = out.add1(withAllocation(r, nil))
	}
	return out
}

// String renders resources in Mesos's text form, e.g.
// "cpus:2; mem:1024; ports:[31000-32000]; cpus(web):1".
func (rs Resources) String() string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, format(r))
	}
	return strings.Join(parts, "; ")
}

func format(r *mesos.Resource) string {
	name := r.GetName()
	if role := ReservationRole(r); role != "*" {
		name += "(" + role + ")"
	}
	if r.GetAllocationInfo() != nil {
		name += "(allocated: " + r.GetAllocationInfo().GetRole() + ")"
	}
	if p := r.GetDisk().GetPersistence(); p != nil {
		name += "[" + p.GetId() + ":" + r.GetDisk().GetVolume().GetContainerPath() + "]"
	}
	if r.Revocable != nil {
		name += "{REV}"
	}
	switch r.GetType() {
	case mesos.Value_SCALAR:
		return name + ":" + formatScalar(r.GetScalar().GetValue())
	case mesos.Value_RANGES:
		return name + ":" + formatRanges(r.GetRanges().GetRange())
	default:
		return name + ":{" + strings.Join(r.GetSet().GetItem(), ",") + "}"
	}
}

func formatScalar(v float64) string {
	return fmt.Sprintf("%g", fromFixed(toFixed(v)))
}

func formatRanges(rs []*mesos.Value_Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.GetBegin(), r.GetEnd())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// coalesce sorts ranges and merges overlapping and adjacent ones. It may
// reorder its argument's elements but never changes them.
// CoalesceRanges merges overlapping and adjacent ranges, as adding
// Resources does, into new ranges in order; rs is left as it is.
func CoalesceRanges(rs []*mesos.Value_Range) []*mesos.Value_Range { return coalesce(slices.Clone(rs)) }

// coalesce is CoalesceRanges, sorting rs in place.
func coalesce(rs []*mesos.Value_Range) []*mesos.Value_Range {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].GetBegin() < rs[j].GetBegin() })
	out := []*mesos.Value_Range{{Begin: proto.Uint64(rs[0].GetBegin()), End: proto.Uint64(rs[0].GetEnd())}}
	for _, r := range rs[1:] {
		last := out[len(out)-1]
		if r.GetBegin() <= last.GetEnd()+1 {
			if r.GetEnd() > last.GetEnd() {
				last.End = proto.Uint64(r.GetEnd())
			}
			continue
		}
		out = append(out, &mesos.Value_Range{Begin: proto.Uint64(r.GetBegin()), End: proto.Uint64(r.GetEnd())})
	}
	return out
}

// subtractRanges returns a minus b, splitting ranges where needed.
func subtractRanges(a, b []*mesos.Value_Range) []*mesos.Value_Range {
	out := coalesce(append([]*mesos.Value_Range{}, a...))
	for _, cut := range b {
		var next []*mesos.Value_Range
		for _, r := range out {
			lo, hi := r.GetBegin(), r.GetEnd()
			if cut.GetEnd() < lo || cut.GetBegin() > hi {
				next = append(next, r)
				continue
			}
			if cut.GetBegin() > lo {
				next = append(next, &mesos.Value_Range{Begin: proto.Uint64(lo), End: proto.Uint64(cut.GetBegin() - 1)})
			}
			if cut.GetEnd() < hi {
				next = append(next, &mesos.Value_Range{Begin: proto.Uint64(cut.GetEnd() + 1), End: proto.Uint64(hi)})
			}
		}
		out = next
	}
	return out
}

// rangesContain reports whether every value of b is in a.
func rangesContain(a, b []*mesos.Value_Range) bool {
	ca := coalesce(append([]*mesos.Value_Range{}, a...))
	for _, r := range b {
		ok := false
		for _, have := range ca {
			if r.GetBegin() >= have.GetBegin() && r.GetEnd() <= have.GetEnd() {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func unionSet(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func subtractSet(a, b []string) []string {
	drop := map[string]bool{}
	for _, s := range b {
		drop[s] = true
	}
	var out []string
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}
