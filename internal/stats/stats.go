// Package stats summarises measurements for the benchmarks.
package stats

import (
	"sort"
	"time"
)

// PercentileMs returns the p-th percentile (nearest rank) of ds in
// milliseconds; 0 for no data.
func PercentileMs(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}
