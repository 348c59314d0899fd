package allocator

import (
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// cycle holds one allocation cycle's quota bookkeeping (Mesos 1.9+
// semantics): what each quota role consumes (its subtree's allocations and
// unallocated reservations), its unmet guarantee, the headroom that must
// stay unallocated so every unmet guarantee can still be met, and what is
// unallocated and unreserved. With no quota set it is empty and costs
// nothing.
type cycle struct {
	h           *hierarchical
	consumed    map[string]resources.Quantities
	unmet       map[string]resources.Quantities
	headroom    resources.Quantities // sum of unmet guarantees
	unallocated resources.Quantities // unreserved and free, cluster-wide
}

func (h *hierarchical) newCycle() *cycle {
	c := &cycle{h: h}
	if len(h.quota) == 0 {
		return c
	}
	c.consumed = map[string]resources.Quantities{}
	for role := range h.quota {
		if n := h.sorter.roles[role]; n != nil {
			c.consumed[role] = append(resources.Quantities(nil), n.allocated...)
		}
	}
	for _, a := range h.agents {
		if !a.active {
			continue
		}
		free := a.free()
		c.unallocated = c.unallocated.Add(free.Unreserved().ScalarQuantities())
		for _, r := range free {
			if !resources.IsReserved(r) || r.GetType() != mesos.Value_SCALAR {
				continue
			}
			if qr := c.quotaRole(resources.ReservationRole(r)); qr != "" {
				c.consumed[qr] = c.consumed[qr].Add(resources.Resources{r}.ScalarQuantities())
			}
		}
	}
	c.recomputeUnmet()
	return c
}

func (c *cycle) recomputeUnmet() {
	c.unmet = map[string]resources.Quantities{}
	c.headroom = nil
	for role, q := range c.h.quota {
		if u := q.Guarantees.Subtract(c.consumed[role]); !u.IsEmpty() {
			c.unmet[role] = u
			c.headroom = c.headroom.Add(u)
		}
	}
}

// quotaRole is the nearest role, the role itself or an ancestor, with a
// quota; "" when there is none.
func (c *cycle) quotaRole(role string) string {
	for {
		if _, ok := c.h.quota[role]; ok {
			return role
		}
		i := strings.LastIndexByte(role, '/')
		if i < 0 {
			return ""
		}
		role = role[:i]
	}
}

// needsGuarantee reports whether a role's quota role has an unmet
// guarantee (stage 1 serves only those).
func (c *cycle) needsGuarantee(role string) bool {
	if len(c.unmet) == 0 {
		return false
	}
	_, ok := c.unmet[c.quotaRole(role)]
	return ok
}

// fit shrinks an offer for role so that it stays within the role's quota
// limit, within its unmet guarantee in stage 1, and leaves the headroom
// other roles' guarantees need.
func (c *cycle) fit(role string, offer resources.Resources, stage1 bool) resources.Resources {
	if c.consumed == nil || offer.IsEmpty() {
		return offer
	}
	qr := c.quotaRole(role)
	caps := map[string]int64{}
	capAt := func(name string, v int64) {
		if v < 0 {
			v = 0
		}
		if old, ok := caps[name]; !ok || v < old {
			caps[name] = v
		}
	}
	if qr != "" {
		q := c.h.quota[qr]
		for _, l := range q.Limits {
			capAt(l.Name, l.Value-fixed(c.consumed[qr], l.Name))
		}
		if stage1 {
			for _, g := range c.unmet[qr] {
				capAt(g.Name, g.Value)
			}
		}
	}
	// Headroom: unreserved resources beyond what unmet guarantees need
	// (this role's own unmet guarantee is what it is being given).
	unreservedCaps := map[string]int64{}
	for _, e := range c.headroom {
		need := e.Value - fixed(c.unmet[qr], e.Name)
		unreservedCaps[e.Name] = max(0, fixed(c.unallocated, e.Name)-need)
	}
	return shrink(offer, caps, unreservedCaps)
}

func fixed(q resources.Quantities, name string) int64 {
	return int64(q.Get(name)*1000 + 0.5)
}

// allocated records an allocation in the cycle's bookkeeping.
func (c *cycle) allocated(role string, offer resources.Resources) {
	if c.consumed == nil {
		return
	}
	unreserved := offer.Unreserved().ScalarQuantities()
	c.unallocated = c.unallocated.Subtract(unreserved)
	if qr := c.quotaRole(role); qr != "" {
		// Reserved resources were already counted as consumed.
		c.consumed[qr] = c.consumed[qr].Add(unreserved)
		c.recomputeUnmet()
	}
}

// shrink caps scalar resources by name: caps apply to all of a name,
// unreservedCaps to its unreserved part. Non-scalar resources of a name
// capped at zero are dropped.
func shrink(rs resources.Resources, caps, unreservedCaps map[string]int64) resources.Resources {
	if len(caps) == 0 && len(unreservedCaps) == 0 {
		return rs
	}
	var out resources.Resources
	for _, r := range rs {
		name := r.GetName()
		limit, limited := caps[name]
		if !resources.IsReserved(r) {
			if u, ok := unreservedCaps[name]; ok && (!limited || u < limit) {
				limit, limited = u, true
			}
		}
		if !limited {
			out = append(out, r)
			continue
		}
		if r.GetType() != mesos.Value_SCALAR {
			if limit > 0 {
				out = append(out, r)
			}
			continue
		}
		v := int64(r.GetScalar().GetValue()*1000 + 0.5)
		take := min(v, limit)
		if c, ok := caps[name]; ok {
			caps[name] = max(0, c-take)
		}
		if u, ok := unreservedCaps[name]; ok && !resources.IsReserved(r) {
			unreservedCaps[name] = max(0, u-take)
		}
		if take <= 0 {
			continue
		}
		if take < v {
			n := proto.Clone(r).(*mesos.Resource)
			n.Scalar = &mesos.Value_Scalar{Value: proto.Float64(float64(take) / 1000)}
			r = n
		}
		out = append(out, r)
	}
	return out
}
