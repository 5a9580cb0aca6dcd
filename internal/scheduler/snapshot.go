package scheduler

import (
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Snapshot is the immutable view of the cluster one scheduling cycle works
// on. The cache updates it between cycles (copying only changed nodes), so
// filter and score goroutines read it without locks. It implements
// framework.NodeInfoLister.
type Snapshot struct {
	byName map[string]*framework.NodeInfo
	// list holds nodes with a Node object, in stable order; positions of
	// unchanged nodes are kept so the round-robin start index stays fair.
	list  []*framework.NodeInfo
	index map[string]int

	withAffinity, withAnti []*framework.NodeInfo
	affinityDirty          bool
	imageNodes             map[string]int
	generation             int64
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{byName: map[string]*framework.NodeInfo{}, index: map[string]int{}, imageNodes: map[string]int{}}
}

// replace swaps in a copy of one node (nil removes it).
func (s *Snapshot) replace(name string, live *framework.NodeInfo) {
	old := s.byName[name]
	var cp *framework.NodeInfo
	if live != nil {
		cp = live.Clone()
	}
	if old != nil {
		s.countImages(old, -1)
	}
	if cp == nil {
		delete(s.byName, name)
	} else {
		s.byName[name] = cp
		s.countImages(cp, 1)
	}
	if i, ok := s.index[name]; ok {
		if cp != nil && cp.Node() != nil {
			s.list[i] = cp
		}
		// A node that lost its object is dropped by rebuildList.
	}
	if (old != nil && (len(old.PodsWithAffinity) > 0 || len(old.PodsWithRequiredAntiAffinity) > 0)) ||
		(cp != nil && (len(cp.PodsWithAffinity) > 0 || len(cp.PodsWithRequiredAntiAffinity) > 0)) {
		s.affinityDirty = true
	}
}

func (s *Snapshot) countImages(ni *framework.NodeInfo, d int) {
	if ni.Node() == nil {
		return
	}
	for name := range ni.Images {
		s.imageNodes[name] += d
		if s.imageNodes[name] <= 0 {
			delete(s.imageNodes, name)
		}
	}
}

// rebuildList recomputes the node list after nodes came or went, keeping
// surviving nodes in their previous relative order.
func (s *Snapshot) rebuildList() {
	next := s.list[:0:0]
	seen := make(map[string]bool, len(s.byName))
	for _, ni := range s.list {
		name := ni.Name()
		if cur, ok := s.byName[name]; ok && cur.Node() != nil && !seen[name] {
			next = append(next, cur)
			seen[name] = true
		}
	}
	for name, ni := range s.byName {
		if ni.Node() != nil && !seen[name] {
			next = append(next, ni)
			seen[name] = true
		}
	}
	s.list = next
	s.index = make(map[string]int, len(next))
	for i, ni := range next {
		s.index[ni.Name()] = i
	}
	s.affinityDirty = true
}

// List implements framework.NodeInfoLister.
func (s *Snapshot) List() []*framework.NodeInfo { return s.list }

// Get implements framework.NodeInfoLister.
func (s *Snapshot) Get(name string) *framework.NodeInfo {
	ni := s.byName[name]
	if ni == nil || ni.Node() == nil {
		return nil
	}
	return ni
}

// HavePodsWithAffinity implements framework.NodeInfoLister.
func (s *Snapshot) HavePodsWithAffinity() []*framework.NodeInfo {
	s.refreshAffinity()
	return s.withAffinity
}

// HavePodsWithRequiredAntiAffinity implements framework.NodeInfoLister.
func (s *Snapshot) HavePodsWithRequiredAntiAffinity() []*framework.NodeInfo {
	s.refreshAffinity()
	return s.withAnti
}

// refreshAffinity rebuilds the affinity lists lazily: only when a node
// with affinity pods changed. Called from the scheduling goroutine (in
// PreFilter/PreScore, which are sequential).
func (s *Snapshot) refreshAffinity() {
	if !s.affinityDirty {
		return
	}
	s.withAffinity, s.withAnti = s.withAffinity[:0], s.withAnti[:0]
	for _, ni := range s.list {
		if len(ni.PodsWithAffinity) > 0 {
			s.withAffinity = append(s.withAffinity, ni)
		}
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			s.withAnti = append(s.withAnti, ni)
		}
	}
	s.affinityDirty = false
}

// ImageNodes implements framework.NodeInfoLister.
func (s *Snapshot) ImageNodes(image string) int { return s.imageNodes[image] }
