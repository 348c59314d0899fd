package master

import (
	"errors"
	"fmt"
	"path"
	"strings"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// Validation of RESERVE, UNRESERVE, CREATE and DESTROY, after Mesos's
// src/master/validation.cpp (operation::validate). fw is nil for the
// operator API; principal is "" when the caller has none.

func validateReserve(rs []*mesos.Resource, principal string, fw *mesos.FrameworkInfo) error {
	if len(rs) == 0 {
		return errors.New("no resources to reserve")
	}
	if err := resources.Validate(rs); err != nil {
		return err
	}
	for _, r := range rs {
		n := len(r.GetReservations())
		if n == 0 || !resources.IsDynamicallyReserved(r) {
			return fmt.Errorf("resource %s is not dynamically reserved", resources.Resources{r})
		}
		last := r.GetReservations()[n-1]
		if principal != "" && last.GetPrincipal() != principal {
			return fmt.Errorf("a reserve operation was attempted by principal '%s', which does not match a reserved resource in the request with principal '%s'", principal, last.GetPrincipal())
		}
		if resources.IsPersistentVolume(r) {
			return fmt.Errorf("a persistent volume %s cannot be reserved", resources.Resources{r})
		}
		if fw == nil {
			continue
		}
		if n > 1 && !hasCapability(fw, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT) {
			return errors.New("resources with refined reservations require the RESERVATION_REFINEMENT framework capability")
		}
		if role := r.GetAllocationInfo().GetRole(); role != last.GetRole() {
			return fmt.Errorf("a reserve operation was attempted for a resource allocated to role '%s', but the reservation is for role '%s'", role, last.GetRole())
		}
	}
	return nil
}

func validateUnreserve(rs []*mesos.Resource) error {
	if len(rs) == 0 {
		return errors.New("no resources to unreserve")
	}
	if err := resources.Validate(rs); err != nil {
		return err
	}
	for _, r := range rs {
		if !resources.IsDynamicallyReserved(r) {
			return fmt.Errorf("resource %s is not dynamically reserved", resources.Resources{r})
		}
		if resources.IsPersistentVolume(r) {
			return fmt.Errorf("a dynamically reserved persistent volume %s cannot be unreserved; destroy it first", resources.Resources{r})
		}
	}
	return nil
}

// validateCreate checks new persistent volumes against the agent's total.
func validateCreate(volumes []*mesos.Resource, total resources.Resources, principal string) error {
	if len(volumes) == 0 {
		return errors.New("no volumes to create")
	}
	if err := resources.Validate(volumes); err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, r := range total {
		if resources.IsPersistentVolume(r) {
			ids[resources.ReservationRole(r)+"/"+r.GetDisk().GetPersistence().GetId()] = true
		}
	}
	for _, v := range volumes {
		if v.GetName() != "disk" || v.GetDisk().GetPersistence() == nil {
			return fmt.Errorf("resource %s is not a persistent volume: it needs disk.persistence", resources.Resources{v})
		}
		id := v.GetDisk().GetPersistence().GetId()
		if id == "" {
			return errors.New("a persistent volume needs a non-empty persistence id")
		}
		if err := validateVolume(v.GetDisk().GetVolume()); err != nil {
			return err
		}
		if !resources.IsReserved(v) {
			return errors.New("persistent volumes cannot be created from unreserved resources")
		}
		if v.Shared != nil {
			return errors.New("shared persistent volumes are not supported")
		}
		if p := v.GetDisk().GetPersistence().GetPrincipal(); principal != "" && p != principal {
			return fmt.Errorf("a create operation was attempted by principal '%s', but there is a volume in the operation with principal '%s'", principal, p)
		}
		key := resources.ReservationRole(v) + "/" + id
		if ids[key] {
			return fmt.Errorf("persistence ID '%s' is already used by another volume of role '%s'", id, resources.ReservationRole(v))
		}
		ids[key] = true
	}
	return nil
}

// validateVolume checks a volume's container path: relative, inside the
// sandbox, read-write.
func validateVolume(v *mesos.Volume) error {
	if v == nil {
		return errors.New("a persistent volume needs disk.volume with a container_path")
	}
	p := v.GetContainerPath()
	switch {
	case p == "":
		return errors.New("a volume needs a container_path")
	case path.IsAbs(p):
		return fmt.Errorf("container_path '%s' must be relative to the sandbox", p)
	case p == ".." || strings.HasPrefix(path.Clean(p), "../"):
		return fmt.Errorf("container_path '%s' must stay inside the sandbox", p)
	case v.GetMode() != mesos.Volume_RW:
		return errors.New("persistent volumes must be mounted read-write (mode RW)")
	}
	return nil
}

// validateDestroy checks that the volumes exist and no task uses them.
func validateDestroy(volumes []*mesos.Resource, total resources.Resources, used map[string]resources.Resources) error {
	if len(volumes) == 0 {
		return errors.New("no volumes to destroy")
	}
	if err := resources.Validate(volumes); err != nil {
		return err
	}
	for _, v := range volumes {
		if !resources.IsPersistentVolume(v) {
			return fmt.Errorf("resource %s is not a persistent volume", resources.Resources{v})
		}
		if !total.Contains(resources.Resources{v}.Unallocate()) {
			return fmt.Errorf("persistent volume '%s' does not exist on the agent", v.GetDisk().GetPersistence().GetId())
		}
		for _, u := range used {
			if u.Unallocate().Contains(resources.Resources{v}.Unallocate()) {
				return fmt.Errorf("persistent volume '%s' is in use by a task or executor", v.GetDisk().GetPersistence().GetId())
			}
		}
	}
	return nil
}

// validateResize checks GROW_VOLUME (addition set) and SHRINK_VOLUME: the
// volume exists and is not in use; an addition is disk reserved as the
// volume is, without persistence.
func validateResize(volume, addition *mesos.Resource, total resources.Resources, used map[string]resources.Resources) error {
	if volume == nil {
		return errors.New("expecting a 'volume'")
	}
	if err := validateDestroy([]*mesos.Resource{volume}, total, used); err != nil {
		return err
	}
	if addition == nil {
		return nil
	}
	if err := resources.Validate([]*mesos.Resource{addition}); err != nil {
		return err
	}
	base := resources.StripVolume(volume)
	if addition.GetName() != "disk" || resources.IsPersistentVolume(addition) ||
		resources.ReservationRole(addition) != resources.ReservationRole(base) {
		return fmt.Errorf("the addition %s must be disk reserved as the volume is, without persistence", resources.Resources{addition})
	}
	return nil
}
