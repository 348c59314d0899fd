package allocator

import "github.com/plateau/plateau/internal/resources"

// Options configures the allocator. The zero value is Mesos's defaults,
// except where a field says otherwise.
type Options struct {
	// Seed orders agents within a cycle reproducibly (Mesos shuffles them).
	Seed int64
	// MinAllocatable lists minimum offer sizes (--min_allocatable_resources):
	// an offer is made only if it holds at least one of them. nil means
	// Mesos's default "cpus:0.01|mem:32"; an empty non-nil slice means
	// any resources are worth offering.
	MinAllocatable []resources.Quantities
	// Weights gives roles a weight other than 1 (--weights).
	Weights map[string]float64
	// FairnessExcludeResourceNames are not counted in dominant shares
	// (--fair_sharing_excluded_resource_names).
	FairnessExcludeResourceNames []string
	// FilterGPUResources offers agents that have GPUs only to frameworks
	// with the GPU_RESOURCES capability (--filter_gpu_resources). Mesos's
	// master turns it on by default; here the zero value leaves it off.
	FilterGPUResources bool
}

// DefaultMinAllocatable is Mesos's default --min_allocatable_resources.
func DefaultMinAllocatable() []resources.Quantities {
	return []resources.Quantities{
		{{Name: "cpus", Value: 10}},  // 0.01 cpus, in thousandths
		{{Name: "mem", Value: 32000}}, // 32 MB
	}
}
