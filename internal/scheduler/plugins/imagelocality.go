package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// ImageLocalityName is the plugin's name.
const ImageLocalityName = "ImageLocality"

// Thresholds from upstream: images under 23 MB do not matter, and the score
// saturates at 1000 MB per container.
const (
	imageMinThreshold          int64 = 23 * 1024 * 1024
	imageMaxContainerThreshold int64 = 1000 * 1024 * 1024
)

// ImageLocality prefers nodes that already hold the pod's images, weighting
// each image by how widely it is spread (an image on every node says little
// about this node; this also avoids piling pods onto one node).
type ImageLocality struct{ h framework.Handle }

// NewImageLocality is the plugin factory.
func NewImageLocality(_ json.RawMessage, h framework.Handle) (framework.Plugin, error) {
	return ImageLocality{h}, nil
}

func (ImageLocality) Name() string { return ImageLocalityName }

func (p ImageLocality) Score(_ context.Context, _ *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	if len(ni.Images) == 0 {
		return 0, nil
	}
	lister := p.h.SnapshotSharedLister()
	total := int64(len(lister.List()))
	if total == 0 {
		return 0, nil
	}
	var sum int64
	add := func(cs []v1.Container) {
		for i := range cs {
			name := framework.NormalizeImageName(cs[i].Image)
			if size, ok := ni.Images[name]; ok {
				sum += size * int64(lister.ImageNodes(name)) / total
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	n := int64(len(pod.Spec.Containers) + len(pod.Spec.InitContainers))
	hi := imageMaxContainerThreshold * n
	sum = min(max(sum, imageMinThreshold), hi)
	if hi == imageMinThreshold {
		return 0, nil
	}
	return framework.MaxNodeScore * (sum - imageMinThreshold) / (hi - imageMinThreshold), nil
}
