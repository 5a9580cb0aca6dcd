package nodelifecycle

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// syncPod is the taint manager: a pod on a node with NoExecute taints it does
// not tolerate is deleted; one tolerating them for tolerationSeconds is
// deleted when the shortest such period since the taint was added runs out.
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return nil
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	taints := noExecute(node.Spec.Taints)
	if len(taints) == 0 {
		c.forget(pod)
		return nil
	}
	now := c.opts.Clock.Now()
	var deadline time.Time // zero: tolerated forever
	for _, t := range taints {
		secs, tolerated := toleration(pod.Spec.Tolerations, &t)
		if !tolerated {
			return c.evict(ctx, pod)
		}
		if secs == nil {
			continue
		}
		start := c.taintStart(pod, &t, now)
		d := start.Add(time.Duration(max(*secs, 0)) * time.Second)
		if deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		return nil
	}
	if !now.Before(deadline) {
		return c.evict(ctx, pod)
	}
	c.evictions.Queue.AddAfter(key, deadline.Sub(now))
	return nil
}

// toleration reports whether the pod tolerates taint and for how long (nil:
// forever). With several matching tolerations the shortest period wins.
func toleration(tols []corev1.Toleration, taint *corev1.Taint) (*int64, bool) {
	var secs *int64
	tolerated, forever := false, false
	for i := range tols {
		if !tols[i].ToleratesTaint(klog.Background(), taint, false) {
			continue
		}
		tolerated = true
		s := tols[i].TolerationSeconds
		if s == nil {
			forever = true
			continue
		}
		if secs == nil || *s < *secs {
			secs = s
		}
	}
	if forever && secs == nil {
		return nil, tolerated
	}
	return secs, tolerated
}

func (c *Controller) taintStart(pod *corev1.Pod, t *corev1.Taint, now time.Time) time.Time {
	if t.TimeAdded != nil {
		return t.TimeAdded.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.firstSeen[pod.UID]; ok {
		return s
	}
	c.firstSeen[pod.UID] = now
	return now
}

func (c *Controller) forget(pod *corev1.Pod) {
	c.mu.Lock()
	delete(c.firstSeen, pod.UID)
	c.mu.Unlock()
}

// evict marks the pod with a DisruptionTarget condition (so controllers and
// users can tell why it went) and deletes it.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	c.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	cp := pod.DeepCopy()
	cp.Status.Conditions = append(cp.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByTaintManager",
		Message: "Taint manager: deleting due to NoExecute taint", LastTransitionTime: metav1.NewTime(c.opts.Clock.Now())})
	if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	c.forget(pod)
	return nil
}
