package resources

import (
	"errors"
	"fmt"
	"math"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Validate checks resources as Mesos's Resources::validate does.
func Validate(rs []*mesos.Resource) error {
	for _, r := range rs {
		if err := validateOne(r); err != nil {
			return fmt.Errorf("invalid resource %q: %w", r.GetName(), err)
		}
	}
	return nil
}

func validateOne(r *mesos.Resource) error {
	if r.GetName() == "" {
		return errors.New("empty resource name")
	}
	switch r.GetType() {
	case mesos.Value_SCALAR:
		if r.Scalar == nil || r.Ranges != nil || r.Set != nil {
			return errors.New("a SCALAR resource must have exactly a scalar value")
		}
		v := r.GetScalar().GetValue()
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("invalid scalar value %v", v)
		}
	case mesos.Value_RANGES:
		if r.Ranges == nil || r.Scalar != nil || r.Set != nil {
			return errors.New("a RANGES resource must have exactly a ranges value")
		}
		for _, rg := range r.GetRanges().GetRange() {
			if rg.GetBegin() > rg.GetEnd() {
				return fmt.Errorf("invalid range [%d-%d]", rg.GetBegin(), rg.GetEnd())
			}
		}
	case mesos.Value_SET:
		if r.Set == nil || r.Scalar != nil || r.Ranges != nil {
			return errors.New("a SET resource must have exactly a set value")
		}
		seen := map[string]bool{}
		for _, it := range r.GetSet().GetItem() {
			if seen[it] {
				return fmt.Errorf("duplicate set item %q", it)
			}
			seen[it] = true
		}
	default:
		return fmt.Errorf("unsupported type %v", r.GetType())
	}
	for i, res := range r.GetReservations() {
		if res.GetRole() == "" || res.GetRole() == "*" {
			return errors.New("a reservation must name a role other than '*'")
		}
		if i > 0 && !IsSubrole(res.GetRole(), r.GetReservations()[i-1].GetRole()) {
			return fmt.Errorf("refined reservation role %q is not a subrole of %q", res.GetRole(), r.GetReservations()[i-1].GetRole())
		}
		if res.GetType() == mesos.Resource_ReservationInfo_STATIC && i > 0 {
			return errors.New("a STATIC reservation can only be the first reservation")
		}
	}
	if d := r.GetDisk(); d != nil && r.GetName() != "disk" {
		return errors.New("DiskInfo is only valid on disk resources")
	}
	return nil
}
