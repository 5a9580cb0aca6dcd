package framework

import (
	"sync"

	v1 "k8s.io/api/core/v1"
)

// StateKey names a piece of per-cycle data; plugins use their own name.
type StateKey string

// StateData is anything a plugin stores for one scheduling cycle.
type StateData interface {
	Clone() StateData
}

// CycleState carries data between the extension points of one scheduling
// cycle of one pod. Plugins write it in the sequential points (PreFilter,
// PreScore, Reserve) and read it in the parallel ones (Filter, Score); the
// lock makes concurrent reads and the occasional write safe regardless.
type CycleState struct {
	mu   sync.RWMutex
	data map[StateKey]StateData
	// skipFilter/skipScore hold plugins whose PreFilter/PreScore said Skip.
	skipFilter map[string]bool
	skipScore  map[string]bool
	podInfo    *PodInfo
}

// PodInfo returns the precomputed info of the pod being scheduled, building
// it if the caller did not set one.
func (c *CycleState) PodInfo(pod *v1.Pod) *PodInfo {
	if c.podInfo == nil || c.podInfo.Pod != pod {
		return NewPodInfo(pod)
	}
	return c.podInfo
}

// SetPodInfo records the pod being scheduled (done once per cycle by the
// scheduler so plugins share one PodInfo).
func (c *CycleState) SetPodInfo(pi *PodInfo) { c.podInfo = pi }

// NewCycleState returns an empty state.
func NewCycleState() *CycleState {
	return &CycleState{data: make(map[StateKey]StateData, 8)}
}

// Read returns the data stored under key, or ErrNotFound.
func (c *CycleState) Read(key StateKey) (StateData, error) {
	c.mu.RLock()
	d, ok := c.data[key]
	c.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	return d, nil
}

// Write stores data under key.
func (c *CycleState) Write(key StateKey, d StateData) {
	c.mu.Lock()
	c.data[key] = d
	c.mu.Unlock()
}

// Clone deep-copies the state (preemption simulates on a copy).
func (c *CycleState) Clone() *CycleState {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := &CycleState{data: make(map[StateKey]StateData, len(c.data)), skipFilter: c.skipFilter, skipScore: c.skipScore, podInfo: c.podInfo}
	for k, v := range c.data {
		n.data[k] = v.Clone()
	}
	return n
}

// SkipFilter reports whether plugin's Filter is skipped this cycle.
func (c *CycleState) SkipFilter(plugin string) bool { return c.skipFilter[plugin] }

// SkipScore reports whether plugin's Score is skipped this cycle.
func (c *CycleState) SkipScore(plugin string) bool { return c.skipScore[plugin] }

type notFound struct{}

func (notFound) Error() string { return "not found in cycle state" }

// ErrNotFound is returned by Read for a missing key.
var ErrNotFound error = notFound{}
