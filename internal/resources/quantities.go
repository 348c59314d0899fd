package resources

import (
	"sort"
	"strconv"
	"strings"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Quantities are scalar amounts by resource name, in fixed point, without
// metadata: what DRF shares and quota are computed on. It is a small
// sorted slice so that arithmetic allocates little.
type Quantities []Quantity

// Quantity is one named amount.
type Quantity struct {
	Name  string
	Value int64 // thousandths
}

// ScalarQuantities sums rs's scalar resources by name.
func (rs Resources) ScalarQuantities() Quantities {
	var q Quantities
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			q = q.addOne(r.GetName(), toFixed(r.GetScalar().GetValue()))
		}
	}
	return q
}

// ParseQuantities reads "cpus:1;mem:128".
func ParseQuantities(s string) (Quantities, error) {
	rs, err := Parse(s, "*")
	if err != nil {
		return nil, err
	}
	return rs.ScalarQuantities(), nil
}

// Get returns the amount of name.
func (q Quantities) Get(name string) float64 {
	i := sort.Search(len(q), func(i int) bool { return q[i].Name >= name })
	if i < len(q) && q[i].Name == name {
		return fromFixed(q[i].Value)
	}
	return 0
}

func (q Quantities) addOne(name string, v int64) Quantities {
	i := sort.Search(len(q), func(i int) bool { return q[i].Name >= name })
	if i < len(q) && q[i].Name == name {
		q[i].Value += v
		return q
	}
	q = append(q, Quantity{})
	copy(q[i+1:], q[i:])
	q[i] = Quantity{Name: name, Value: v}
	return q
}

// Add returns q + o.
func (q Quantities) Add(o Quantities) Quantities {
	out := append(Quantities(nil), q...)
	for _, e := range o {
		out = out.addOne(e.Name, e.Value)
	}
	return out
}

// Subtract returns q - o, never below zero.
func (q Quantities) Subtract(o Quantities) Quantities {
	out := append(Quantities(nil), q...)
	for _, e := range o {
		out = out.addOne(e.Name, -e.Value)
	}
	kept := out[:0]
	for _, e := range out {
		if e.Value > 0 {
			kept = append(kept, e)
		}
	}
	return kept
}

// Contains reports whether q has at least o of every name.
func (q Quantities) Contains(o Quantities) bool {
	for _, e := range o {
		i := sort.Search(len(q), func(i int) bool { return q[i].Name >= e.Name })
		if e.Value > 0 && (i == len(q) || q[i].Name != e.Name || q[i].Value < e.Value) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether q holds nothing.
func (q Quantities) IsEmpty() bool {
	for _, e := range q {
		if e.Value > 0 {
			return false
		}
	}
	return true
}

func (q Quantities) String() string {
	parts := make([]string, len(q))
	for i, e := range q {
		parts[i] = e.Name + ":" + strconv.FormatFloat(fromFixed(e.Value), 'g', -1, 64)
	}
	return strings.Join(parts, ";")
}

// AddInPlace adds sign*o to q, reusing q's storage, and drops names that
// reach zero; it returns the updated slice. For owners of q only.
func (q Quantities) AddInPlace(o Quantities, sign int) Quantities {
	for _, e := range o {
		q = q.addOne(e.Name, int64(sign)*e.Value)
	}
	kept := q[:0]
	for _, e := range q {
		if e.Value > 0 {
			kept = append(kept, e)
		}
	}
	return kept
}
