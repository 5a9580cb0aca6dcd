package scheduler

import (
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Cache is the scheduler's model of the cluster: every node with the pods
// bound to it, plus pods the scheduler has *assumed* onto nodes but whose
// binding the informer has not confirmed yet. Assuming charges the node at
// once so the next pod sees the capacity as used, while the bind call runs
// in the background.
//
// Pod lifecycle in the cache:
//
//	Assume ──FinishBinding──▶ (assumed, expiry set) ──AddPod(informer)──▶ bound
//	   │                               │
//	   └─ForgetPod (bind failed)       └─expire (never confirmed within ttl)
//
// Informer handlers and the scheduling goroutine share it under one mutex;
// the scheduling cycle reads an immutable Snapshot instead.
type Cache struct {
	mu    sync.Mutex
	clock clock.Clock
	ttl   time.Duration

	nodes map[string]*framework.NodeInfo
	pods  map[types.UID]*podState
	// generation increases with every change; each NodeInfo carries the
	// generation of its last change so snapshots copy only what moved.
	generation int64
	// nodeSetChanged tells the snapshot to rebuild its node list.
	nodeSetChanged bool
	dirty          map[string]struct{}
}

type podState struct {
	pi      *framework.PodInfo
	node    string
	assumed bool
	// deadline is set once binding finished; nil while the bind is running
	// (an assumed pod is never expired mid-bind).
	deadline *time.Time
}

// NewCache returns an empty cache whose assumed pods expire ttl after their
// binding finished without the informer confirming it.
func NewCache(clk clock.Clock, ttl time.Duration) *Cache {
	return &Cache{clock: clk, ttl: ttl, nodes: map[string]*framework.NodeInfo{},
		pods: map[types.UID]*podState{}, dirty: map[string]struct{}{}}
}

func (c *Cache) touch(name string) *framework.NodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = framework.NewNodeInfo(nil)
		c.nodes[name] = ni
		c.nodeSetChanged = true
	}
	c.generation++
	ni.Generation = c.generation
	c.dirty[name] = struct{}{}
	return ni
}

// AddNode / UpdateNode record a node object.
func (c *Cache) AddNode(node *v1.Node) { c.UpdateNode(node) }

// UpdateNode replaces a node object.
func (c *Cache) UpdateNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.touch(node.Name)
	if ni.Node() == nil {
		c.nodeSetChanged = true
	}
	ni.SetNode(node)
}

// RemoveNode forgets a node. Pods still charged to it keep a node-less
// entry until they are removed, so a quickly re-added node is accounted
// correctly.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok {
		return
	}
	c.nodeSetChanged = true
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
		c.dirty[name] = struct{}{}
		return
	}
	c.touch(name).SetNode(nil)
}

// AssumePod charges pod (with spec.nodeName set) to its node before the
// binding is confirmed.
func (c *Cache) AssumePod(pi *framework.PodInfo) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := pi.Pod.UID
	if _, ok := c.pods[uid]; ok {
		return fmt.Errorf("pod %s/%s is already in the cache", pi.Pod.Namespace, pi.Pod.Name)
	}
	c.addLocked(pi, true)
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod.
func (c *Cache) FinishBinding(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok && ps.assumed {
		d := c.clock.Now().Add(c.ttl)
		ps.deadline = &d
	}
}

// ForgetPod rolls back an assumption (bind failed).
func (c *Cache) ForgetPod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok && ps.assumed {
		c.removeLocked(ps)
	}
}

// AddPod records a bound pod seen by the informer; it confirms an assumed
// pod (moving it if the API placed it elsewhere).
func (c *Cache) AddPod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		if ps.node != pod.Spec.NodeName {
			c.removeLocked(ps)
			c.addLocked(framework.NewPodInfo(pod), false)
			return
		}
		// Confirmation of our own assumption: the spec is the one we
		// scheduled, so keep the entry and spare the node a copy.
		ps.assumed, ps.deadline = false, nil
		return
	}
	c.addLocked(framework.NewPodInfo(pod), false)
}

// UpdatePod replaces a bound pod (labels, resources after resize...).
func (c *Cache) UpdatePod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removeLocked(ps)
	}
	c.addLocked(framework.NewPodInfo(pod), false)
}

// RemovePod forgets a pod (deleted, or finished).
func (c *Cache) RemovePod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removeLocked(ps)
	}
}

// IsAssumed reports whether pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *v1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	return ok && ps.assumed
}

func (c *Cache) addLocked(pi *framework.PodInfo, assumed bool) {
	node := pi.Pod.Spec.NodeName
	c.touch(node).AddPod(pi)
	c.pods[pi.Pod.UID] = &podState{pi: pi, node: node, assumed: assumed}
}

func (c *Cache) removeLocked(ps *podState) {
	ni := c.touch(ps.node)
	ni.RemovePod(ps.pi.Pod.UID)
	delete(c.pods, ps.pi.Pod.UID)
	if ni.Node() == nil && len(ni.Pods) == 0 {
		delete(c.nodes, ps.node)
		c.nodeSetChanged = true
	}
}

// CleanupExpired drops assumed pods whose binding finished more than ttl
// ago without confirmation (the bind was lost, or the pod deleted and the
// event missed). It returns how many were dropped.
func (c *Cache) CleanupExpired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	n := 0
	for _, ps := range c.pods {
		if ps.assumed && ps.deadline != nil && now.After(*ps.deadline) {
			c.removeLocked(ps)
			n++
		}
	}
	return n
}

// Dump returns a deep copy of every node (for tests and debugging).
func (c *Cache) Dump() map[string]*framework.NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*framework.NodeInfo, len(c.nodes))
	for k, v := range c.nodes {
		out[k] = v.Clone()
	}
	return out
}

// UpdateSnapshot brings s up to date, copying only nodes changed since the
// last call. It is called once per scheduling cycle; with nothing changed
// it costs a map lookup.
func (c *Cache) UpdateSnapshot(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) == 0 && !c.nodeSetChanged {
		return
	}
	for name := range c.dirty {
		s.replace(name, c.nodes[name])
		delete(c.dirty, name)
	}
	if c.nodeSetChanged {
		s.rebuildList()
		c.nodeSetChanged = false
	}
	s.generation = c.generation
}
