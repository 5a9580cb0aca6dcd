// Package plugins holds Skiff's in-tree scheduler plugins, one file per
// plugin, each learning its behaviour (and its user-facing reason strings)
// from upstream kube-scheduler but written from scratch.
package plugins

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

var logger = klog.Background()

// normalize rescales scores to [0, MaxNodeScore] by dividing by the maximum;
// with reverse, low raw scores become high ones. This is the shape of
// upstream's default normalization.
func normalize(scores []framework.NodeScore, reverse bool) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s.Score)
	}
	if hi == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = framework.MaxNodeScore
			}
		}
		return
	}
	for i := range scores {
		s := framework.MaxNodeScore * scores[i].Score / hi
		if reverse {
			s = framework.MaxNodeScore - s
		}
		scores[i].Score = s
	}
}

// readState fetches typed cycle state written by PreFilter/PreScore.
func readState[T framework.StateData](state *framework.CycleState, key framework.StateKey) (T, bool) {
	var zero T
	d, err := state.Read(key)
	if err != nil {
		return zero, false
	}
	t, ok := d.(T)
	return t, ok
}

func podIsTerminating(p *v1.Pod) bool { return p.DeletionTimestamp != nil }
