package stats

import (
	"testing"
	"time"
)

func TestPercentileMs(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    int
		want float64
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := PercentileMs(ds, tt.p); got != tt.want {
			t.Errorf("p%d = %v, want %v", tt.p, got, tt.want)
		}
	}
	if PercentileMs(nil, 50) != 0 {
		t.Error("no data must give 0")
	}
}
