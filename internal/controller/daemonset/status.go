package daemonset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// computeStatus counts, per node, the oldest daemon pod not being deleted.
func computeStatus(v *view) appsv1.DaemonSetStatus {
	s := appsv1.DaemonSetStatus{
		ObservedGeneration: v.ds.Generation,
		CollisionCount:     v.ds.Status.CollisionCount,
		Conditions:         v.ds.Status.Conditions,
	}
	for _, n := range v.nodes {
		pod := firstLive(v.byNode[n.Name])
		if !v.place[n.Name].shouldRun {
			if pod != nil {
				s.NumberMisscheduled++
			}
			continue
		}
		s.DesiredNumberScheduled++
		if pod == nil {
			continue
		}
		s.CurrentNumberScheduled++
		if ctrlutil.IsPodReady(pod) {
			s.NumberReady++
			if ctrlutil.IsPodAvailable(pod, v.ds.Spec.MinReadySeconds, v.now) {
				s.NumberAvailable++
			}
		}
		if pod.Labels[history.HashLabel] == v.hash {
			s.UpdatedNumberScheduled++
		}
	}
	s.NumberUnavailable = s.DesiredNumberScheduled - s.NumberAvailable
	return s
}

// writeStatus updates status only when it changed, and re-checks later when
// ready pods are waiting out minReadySeconds.
func (c *Controller) writeStatus(ctx context.Context, v *view) error {
	s := computeStatus(v)
	if v.ds.Spec.MinReadySeconds > 0 && s.NumberReady > s.NumberAvailable {
		c.loop.Queue.AddAfter(v.ds.Namespace+"/"+v.ds.Name, time.Second)
	}
	if equality.Semantic.DeepEqual(v.ds.Status, s) {
		return nil
	}
	cp := v.ds.DeepCopy()
	cp.Status = s
	_, err := c.client.AppsV1().DaemonSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return err
}
