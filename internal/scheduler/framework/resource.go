package framework

import (
	v1 "k8s.io/api/core/v1"
)

// Defaults charged, for scoring only, to containers that request nothing, so
// that best-effort pods still spread (same values as upstream).
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is a compact, allocation-free form of a ResourceList.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	AllowedPodNumber int64
	// Scalar holds extended resources (example.com/gpu, hugepages-*...).
	Scalar map[v1.ResourceName]int64
}

// NewResource converts a ResourceList.
func NewResource(rl v1.ResourceList) Resource {
	var r Resource
	r.Add(rl)
	return r
}

// Add adds a ResourceList.
func (r *Resource) Add(rl v1.ResourceList) {
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case v1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if IsScalarResource(name) {
				r.AddScalar(name, q.Value())
			}
		}
	}
}

// AddScalar adds n of an extended resource.
func (r *Resource) AddScalar(name v1.ResourceName, n int64) {
	if r.Scalar == nil {
		r.Scalar = make(map[v1.ResourceName]int64, 2)
	}
	r.Scalar[name] += n
}

// Plus adds another Resource (sign = +1) or subtracts it (sign = -1).
func (r *Resource) Plus(o *Resource, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	r.AllowedPodNumber += sign * o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.AddScalar(k, sign*v)
	}
}

// max raises every field of r to at least o's.
func (r *Resource) max(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if v > r.Scalar[k] {
			if r.Scalar == nil {
				r.Scalar = make(map[v1.ResourceName]int64, 2)
			}
			r.Scalar[k] = v
		}
	}
}

// Clone deep-copies r.
func (r Resource) Clone() Resource {
	if r.Scalar != nil {
		s := make(map[v1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			s[k] = v
		}
		r.Scalar = s
	}
	return r
}

// Get returns the amount of one named resource.
func (r *Resource) Get(name v1.ResourceName) int64 {
	switch name {
	case v1.ResourceCPU:
		return r.MilliCPU
	case v1.ResourceMemory:
		return r.Memory
	case v1.ResourceEphemeralStorage:
		return r.EphemeralStorage
	case v1.ResourcePods:
		return r.AllowedPodNumber
	default:
		return r.Scalar[name]
	}
}

// IsScalarResource is true for extended resources, hugepages and
// attachable-volume counts: everything the fit check compares by count.
func IsScalarResource(name v1.ResourceName) bool {
	s := string(name)
	if len(s) > len(v1.ResourceHugePagesPrefix) && s[:len(v1.ResourceHugePagesPrefix)] == v1.ResourceHugePagesPrefix {
		return true
	}
	if len(s) > len(v1.ResourceAttachableVolumesPrefix) && s[:len(v1.ResourceAttachableVolumesPrefix)] == v1.ResourceAttachableVolumesPrefix {
		return true
	}
	// Extended resources are fully qualified and outside kubernetes.io.
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return !hasKubernetesIOPrefix(s)
		}
	}
	return false
}

func hasKubernetesIOPrefix(s string) bool {
	const p = "kubernetes.io/"
	return len(s) >= len(p) && s[:len(p)] == p
}

// PodRequests computes what a pod asks of a node, the way the kubelet
// admits it:
//
//	max(sum of app containers + sidecars, max over init containers of
//	    (that init container + the sidecars started before it)) + overhead
//
// Sidecars are init containers with restartPolicy Always: they keep running,
// so they count towards the steady state and towards every later init
// container. Pod-level requests (spec.resources) win for cpu and memory.
// With nonZero, containers that request no cpu/memory are charged the
// defaults above (used only for scoring, like upstream).
func PodRequests(pod *v1.Pod, nonZero bool) Resource {
	var sum Resource
	for i := range pod.Spec.Containers {
		c := containerRequests(&pod.Spec.Containers[i], nonZero)
		sum.Plus(&c, 1)
	}
	var sidecars, initMax Resource
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c := containerRequests(ic, nonZero)
		if ic.RestartPolicy != nil && *ic.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum.Plus(&c, 1)
			sidecars.Plus(&c, 1)
			initMax.max(&sidecars)
			continue
		}
		c.Plus(&sidecars, 1)
		initMax.max(&c)
	}
	sum.max(&initMax)
	if pr := pod.Spec.Resources; pr != nil {
		if q, ok := pr.Requests[v1.ResourceCPU]; ok {
			sum.MilliCPU = q.MilliValue()
		}
		if q, ok := pr.Requests[v1.ResourceMemory]; ok {
			sum.Memory = q.Value()
		}
	}
	if pod.Spec.Overhead != nil {
		sum.Add(pod.Spec.Overhead)
	}
	return sum
}

func containerRequests(c *v1.Container, nonZero bool) Resource {
	r := NewResource(c.Resources.Requests)
	if nonZero {
		if _, ok := c.Resources.Requests[v1.ResourceCPU]; !ok {
			r.MilliCPU = DefaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[v1.ResourceMemory]; !ok {
			r.Memory = DefaultMemoryRequest
		}
	}
	return r
}
