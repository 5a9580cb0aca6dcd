package statefulset

import (
	"context"
	"errors"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/controller/history"
)

// plan is one sync's snapshot of a set.
type plan struct {
	set       *appsv1.StatefulSet
	start     int           // first ordinal (spec.ordinals.start)
	replicas  []*corev1.Pod // slot i holds ordinal start+i, nil when missing
	condemned []*corev1.Pod // pods outside the slots, highest ordinal first
	all       []*corev1.Pod // every owned pod
	current   *appsv1.ControllerRevision
	update    *appsv1.ControllerRevision
	curTmpl   *corev1.PodTemplateSpec
	now       time.Time
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := splitKey(key)
	if err != nil {
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := c.snapshot(ctx, set)
	if err != nil {
		return err
	}
	var actErr error
	if set.DeletionTimestamp == nil {
		actErr = c.act(ctx, p)
	}
	if err := c.writeStatus(ctx, p); err != nil {
		return err
	}
	return actErr
}

func (c *Controller) snapshot(ctx context.Context, set *appsv1.StatefulSet) (*plan, error) {
	p := &plan{set: set, now: c.opts.Clock.Now()}
	if set.Spec.Ordinals != nil {
		p.start = int(set.Spec.Ordinals.Start)
	}
	pods, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	p.replicas = make([]*corev1.Pod, replicas(set))
	for _, pod := range pods {
		if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != set.UID {
			continue
		}
		ord := ordinalOf(set, pod)
		if ord < 0 {
			continue
		}
		p.all = append(p.all, pod)
		if i := ord - p.start; ord >= p.start && i < len(p.replicas) {
			p.replicas[i] = pod
		} else {
			p.condemned = append(p.condemned, pod)
		}
	}
	sort.Slice(p.condemned, func(i, j int) bool {
		return ordinalOf(set, p.condemned[i]) > ordinalOf(set, p.condemned[j])
	})
	if err := c.revisions(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

// revisions finds (creating if needed) the update revision for the current
// template and the current revision named in status, then prunes history.
func (c *Controller) revisions(ctx context.Context, p *plan) error {
	set := p.set
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return err
	}
	o := history.Owner{Object: set, APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
		Selector: sel, Labels: set.Spec.Template.Labels, Data: history.TemplateData(&set.Spec.Template),
		Collision: set.Status.CollisionCount}
	revs, err := c.history.List(o)
	if err != nil {
		return err
	}
	p.update, err = c.history.Ensure(ctx, o, revs)
	if errors.Is(err, history.ErrCollision) {
		cp := set.DeepCopy()
		n := int32(1)
		if cp.Status.CollisionCount != nil {
			n = *cp.Status.CollisionCount + 1
		}
		cp.Status.CollisionCount = &n
		if _, uerr := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); uerr != nil {
			return uerr
		}
		return err
	}
	if err != nil {
		return err
	}
	p.current = p.update
	p.curTmpl = &set.Spec.Template
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision && r.Name != p.update.Name {
			tmpl, err := history.TemplateFrom(r)
			if err != nil {
				return err
			}
			p.current, p.curTmpl = r, tmpl
		}
	}
	live := map[string]bool{p.update.Name: true, p.current.Name: true}
	for _, pod := range p.all {
		live[pod.Labels[history.HashLabel]] = true
	}
	keep := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		keep = *set.Spec.RevisionHistoryLimit
	}
	return c.history.Truncate(ctx, revs, live, keep)
}

// act performs at most one ordered step (OrderedReady) or every step it can
// (Parallel) towards the wanted pods; later steps happen on the next sync,
// which the resulting pod events trigger.
func (c *Controller) act(ctx context.Context, p *plan) error {
	set := p.set
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	for i, pod := range p.replicas {
		ord := p.start + i
		switch {
		case pod == nil:
			if err := c.createPod(ctx, p, ord); err != nil || ordered {
				return err
			}
		case pod.DeletionTimestamp != nil:
			if ordered {
				return nil // wait for the old incarnation to go
			}
		case isFinished(pod):
			// A pod whose containers all exited never runs again; replace it.
			c.opts.Recorder.Eventf(set, corev1.EventTypeWarning, "RecreatingFailedPod",
				"StatefulSet %s/%s is recreating failed Pod %s", set.Namespace, set.Name, pod.Name)
			if err := c.deletePod(ctx, set, pod); err != nil || ordered {
				return err
			}
		default:
			if !identityMatches(set, pod, ord) {
				if err := c.fixIdentity(ctx, set, pod, ord); err != nil {
					return err
				}
			}
			if ordered && !isHealthy(pod, set.Spec.MinReadySeconds, p.now) {
				return nil // OrderedReady: N+1 waits for N
			}
		}
	}
	var unhealthy *corev1.Pod
	for _, pod := range append(append([]*corev1.Pod(nil), p.replicas...), p.condemned...) {
		if pod != nil && !isHealthy(pod, set.Spec.MinReadySeconds, p.now) {
			unhealthy = pod
			break
		}
	}
	for _, pod := range p.condemned {
		if pod.DeletionTimestamp != nil {
			if ordered {
				return nil
			}
			continue
		}
		if ordered && unhealthy != nil && unhealthy != pod {
			return nil // never scale down past an unhealthy pod
		}
		if err := c.deletePod(ctx, set, pod); err != nil || ordered {
			return err
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	return c.rollingUpdate(ctx, p)
}

// rollingUpdate deletes the highest-ordinal pod not at the update revision,
// at or above the partition, once every pod above it is healthy.
func (c *Controller) rollingUpdate(ctx context.Context, p *plan) error {
	partition := 0
	if ru := p.set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for i := len(p.replicas) - 1; i >= 0 && p.start+i >= p.start+partition; i-- {
		pod := p.replicas[i]
		if pod == nil || pod.DeletionTimestamp != nil {
			return nil
		}
		if pod.Labels[history.HashLabel] != p.update.Name {
			return c.deletePod(ctx, p.set, pod)
		}
		if !isHealthy(pod, p.set.Spec.MinReadySeconds, p.now) {
			return nil // wait for the replacement before the next one
		}
	}
	return nil
}

// templateFor picks the revision a newly created pod at ordinal gets: pods
// below the partition stay at the current revision.
func templateFor(p *plan, ord int) (*corev1.PodTemplateSpec, string) {
	st := p.set.Spec.UpdateStrategy
	if st.Type != appsv1.OnDeleteStatefulSetStrategyType && st.RollingUpdate != nil &&
		st.RollingUpdate.Partition != nil && ord < p.start+int(*st.RollingUpdate.Partition) {
		return p.curTmpl, p.current.Name
	}
	return &p.set.Spec.Template, p.update.Name
}

func (c *Controller) createPod(ctx context.Context, p *plan, ord int) error {
	set := p.set
	for _, pvc := range newClaims(set, ord) {
		_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			c.opts.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate",
				"create Claim %s for Pod %s in StatefulSet %s failed error: %v", pvc.Name, podName(set, ord), set.Name, err)
			return err
		}
	}
	tmpl, rev := templateFor(p, ord)
	pod := newPod(set, tmpl, ord, rev)
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // our cache is behind; the pod event will requeue us
	}
	if err != nil {
		c.opts.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate",
			"create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return err
	}
	c.opts.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate",
		"create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// deletePod deletes with a UID precondition so a stale cache can never
// delete the pod's next incarnation.
func (c *Controller) deletePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		c.opts.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete",
			"delete Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return err
	}
	c.opts.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete",
		"delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) fixIdentity(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ord int) error {
	cp := pod.DeepCopy()
	setIdentity(set, cp, ord)
	_, err := c.client.CoreV1().Pods(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	return err
}

// computeStatus counts the snapshot's pods against the two revisions.
func computeStatus(p *plan) appsv1.StatefulSetStatus {
	set := p.set
	s := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CollisionCount:     set.Status.CollisionCount,
		Conditions:         set.Status.Conditions,
		CurrentRevision:    p.current.Name,
		UpdateRevision:     p.update.Name,
	}
	for _, pod := range p.all {
		s.Replicas++
		if isRunningAndReady(pod) {
			s.ReadyReplicas++
			if isHealthy(pod, set.Spec.MinReadySeconds, p.now) {
				s.AvailableReplicas++
			}
		}
		if pod.DeletionTimestamp != nil {
			continue
		}
		switch pod.Labels[history.HashLabel] {
		case p.update.Name:
			s.UpdatedReplicas++
			if p.current.Name == p.update.Name {
				s.CurrentReplicas++
			}
		case p.current.Name:
			s.CurrentReplicas++
		}
	}
	// Once every pod runs the update revision and is ready, it becomes the
	// current revision (the rollout is complete).
	if s.UpdatedReplicas == s.Replicas && s.ReadyReplicas == s.Replicas && int(s.Replicas) == replicas(set) {
		s.CurrentRevision = s.UpdateRevision
		s.CurrentReplicas = s.UpdatedReplicas
	}
	return s
}

func (c *Controller) writeStatus(ctx context.Context, p *plan) error {
	s := computeStatus(p)
	if p.set.Spec.MinReadySeconds > 0 && s.ReadyReplicas > s.AvailableReplicas {
		c.loop.Queue.AddAfter(p.set.Namespace+"/"+p.set.Name, time.Second)
	}
	if equality.Semantic.DeepEqual(p.set.Status, s) {
		return nil
	}
	cp := p.set.DeepCopy()
	cp.Status = s
	_, err := c.client.AppsV1().StatefulSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return err
}
