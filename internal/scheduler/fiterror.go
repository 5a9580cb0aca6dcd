package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// ErrNoNodesAvailable is the message when the cluster has no nodes at all.
const ErrNoNodesAvailable = "no nodes available to schedule pods"

// Diagnosis records why each node was rejected in one cycle. It
// implements framework.NodeStatuses for PostFilter plugins.
type Diagnosis struct {
	// index maps node names to positions in statuses (the snapshot's list).
	index    map[string]int
	statuses []*framework.Status
	// extra holds rejections by name (extenders, nominated node).
	extra map[string]*framework.Status
	// all, when set, is every node's status (a PreFilter rejection).
	all           *framework.Status
	PreFilterMsg  string
	PostFilterMsg string
}

// Get implements framework.NodeStatuses.
func (d *Diagnosis) Get(node string) *framework.Status {
	if d.all != nil {
		return d.all
	}
	if s, ok := d.extra[node]; ok {
		return s
	}
	if i, ok := d.index[node]; ok && i < len(d.statuses) {
		return d.statuses[i]
	}
	return nil
}

func (d *Diagnosis) reject(node string, s *framework.Status) {
	if d.extra == nil {
		d.extra = map[string]*framework.Status{}
	}
	d.extra[node] = s
}

// histogram counts nodes per reason.
func (d *Diagnosis) histogram() map[string]int {
	h := map[string]int{}
	count := func(s *framework.Status) {
		for _, r := range s.Reasons() {
			h[r]++
		}
	}
	for name, s := range d.extra {
		if i, ok := d.index[name]; ok && i < len(d.statuses) && d.statuses[i] != nil {
			continue // counted below
		}
		count(s)
	}
	for _, s := range d.statuses {
		count(s)
	}
	return h
}

// FitError says no node fits; its message is what users see in the
// FailedScheduling event and the PodScheduled condition.
type FitError struct {
	NumAllNodes int
	Diagnosis   *Diagnosis
}

// Error renders upstream's format: "0/N nodes are available: <count
// reason>, ... . <postfilter message>." with the "count reason" strings
// sorted, so equal situations always read the same.
func (f *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", f.NumAllNodes)
	d := f.Diagnosis
	if d.PreFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", d.PreFilterMsg)
	} else {
		h := d.histogram()
		parts := make([]string, 0, len(h))
		for r, n := range h {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			fmt.Fprintf(&b, " %s.", strings.Join(parts, ", "))
		}
	}
	if d.PostFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", d.PostFilterMsg)
	}
	return b.String()
}
