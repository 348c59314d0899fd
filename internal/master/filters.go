package master

import (
	"container/heap"
	"time"
)

// expiries is a min-heap of refusal filter expiry times. The periodic
// allocation cycle runs over every agent only when a filter has expired
// since the last one (or a framework arrived or revived): otherwise
// freed resources are offered event by event, and a large idle cluster
// costs the master nothing each tick.
type expiries []time.Time

func (e expiries) Len() int           { return len(e) }
func (e expiries) Less(i, j int) bool { return e[i].Before(e[j]) }
func (e expiries) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *expiries) Push(x any)        { *e = append(*e, x.(time.Time)) }
func (e *expiries) Pop() any {
	old := *e
	t := old[len(old)-1]
	*e = old[:len(old)-1]
	return t
}

// addFilter records that a refusal filter expires at t.
func (m *Master) addFilter(t time.Time) { heap.Push(&m.filters, t) }

// filtersExpired pops the filters that have expired by now and reports
// whether there were any.
func (m *Master) filtersExpired(now time.Time) bool {
	expired := false
	for m.filters.Len() > 0 && !m.filters[0].After(now) {
		heap.Pop(&m.filters)
		expired = true
	}
	return expired
}
