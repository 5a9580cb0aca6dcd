package daemonset

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// view is one sync's snapshot: eligible nodes and the owned pods per node.
type view struct {
	ds     *appsv1.DaemonSet
	hash   string
	nodes  []*corev1.Node
	place  map[string]placement
	byNode map[string][]*corev1.Pod // sorted oldest first; includes terminating pods
	now    time.Time
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := splitKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	if ds.DeletionTimestamp != nil {
		return nil // the garbage collector removes the pods
	}
	v, err := c.snapshot(ds)
	if err != nil {
		return err
	}
	cur, err := c.ensureRevision(ctx, ds, v)
	if err != nil {
		return err
	}
	v.hash = cur.Labels[history.HashLabel]

	var manageErr error
	if c.exp.Satisfied(key) {
		manageErr = c.manage(ctx, key, v)
	}
	if err := c.writeStatus(ctx, v); err != nil {
		return err
	}
	return manageErr
}

func (c *Controller) snapshot(ds *appsv1.DaemonSet) (*view, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	pods, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	v := &view{ds: ds, nodes: nodes, place: map[string]placement{}, byNode: map[string][]*corev1.Pod{},
		now: c.opts.Clock.Now()}
	for _, n := range nodes {
		v.place[n.Name] = place(ds, n)
	}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != ds.UID {
			continue
		}
		node := targetNode(p)
		v.byNode[node] = append(v.byNode[node], p)
	}
	for _, ps := range v.byNode {
		sort.SliceStable(ps, func(i, j int) bool {
			return ps[i].CreationTimestamp.Before(&ps[j].CreationTimestamp)
		})
	}
	return v, nil
}

// ensureRevision records the current template as a ControllerRevision and
// prunes history beyond revisionHistoryLimit.
func (c *Controller) ensureRevision(ctx context.Context, ds *appsv1.DaemonSet, v *view) (*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	keep := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		keep = *ds.Spec.RevisionHistoryLimit
	}
	o := history.Owner{Object: ds, APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
		Selector: sel, Labels: ds.Spec.Template.Labels, Data: history.TemplateData(&ds.Spec.Template),
		Collision: ds.Status.CollisionCount}
	revs, err := c.history.List(o)
	if err != nil {
		return nil, err
	}
	cur, err := c.history.Ensure(ctx, o, revs)
	if errors.Is(err, history.ErrCollision) {
		cp := ds.DeepCopy()
		n := int32(0)
		if cp.Status.CollisionCount != nil {
			n = *cp.Status.CollisionCount
		}
		n++
		cp.Status.CollisionCount = &n
		if _, uerr := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); uerr != nil {
			return nil, uerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	live := map[string]bool{cur.Name: true}
	inUse := map[string]bool{}
	for _, ps := range v.byNode {
		for _, p := range ps {
			inUse[p.Labels[history.HashLabel]] = true
		}
	}
	for _, r := range revs {
		if inUse[r.Labels[history.HashLabel]] {
			live[r.Name] = true
		}
	}
	return cur, c.history.Truncate(ctx, revs, live, keep)
}

// manage computes creations and deletions for every node and issues them.
// Deletions go first and alone: the expectations table tracks one kind of
// operation at a time, and a replacement must wait for its predecessor anyway.
func (c *Controller) manage(ctx context.Context, key string, v *view) error {
	var creates []string
	var deletes []*corev1.Pod
	for _, n := range v.nodes {
		p := v.place[n.Name]
		pods := v.byNode[n.Name]
		switch {
		case p.shouldRun && len(pods) == 0:
			creates = append(creates, n.Name)
		case p.shouldContinue:
			var running []*corev1.Pod
			for _, pod := range pods {
				if pod.DeletionTimestamp != nil {
					continue
				}
				if pod.Status.Phase == corev1.PodFailed {
					c.opts.Recorder.Eventf(v.ds, corev1.EventTypeWarning, "FailedDaemonPod",
						"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, n.Name)
					deletes = append(deletes, pod)
					continue
				}
				running = append(running, pod)
			}
			if len(running) > 1 { // keep the oldest
				deletes = append(deletes, running[1:]...)
			}
		default:
			for _, pod := range pods {
				if pod.DeletionTimestamp == nil {
					deletes = append(deletes, pod)
				}
			}
		}
	}
	// Pods pinned to nodes that no longer exist.
	for node, pods := range v.byNode {
		if _, ok := v.place[node]; ok {
			continue
		}
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				deletes = append(deletes, pod)
			}
		}
	}
	if len(deletes) == 0 && v.ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		deletes = c.rollingUpdate(v)
	}
	if len(deletes) > 0 {
		return c.deletePods(ctx, key, v.ds, deletes)
	}
	return c.createPods(ctx, key, v, creates)
}

// rollingUpdate picks old-revision pods to delete: unavailable ones freely,
// available ones only while fewer than maxUnavailable nodes lack an
// available daemon pod.
func (c *Controller) rollingUpdate(v *view) []*corev1.Pod {
	desired := 0
	unavailable := 0
	var oldAvailable, oldUnavailable []*corev1.Pod
	for _, n := range v.nodes {
		if !v.place[n.Name].shouldRun {
			continue
		}
		desired++
		pod := firstLive(v.byNode[n.Name])
		if pod == nil {
			unavailable++
			continue
		}
		avail := ctrlutil.IsPodAvailable(pod, v.ds.Spec.MinReadySeconds, v.now)
		if !avail {
			unavailable++
		}
		if pod.Labels[history.HashLabel] == v.hash {
			continue
		}
		if avail {
			oldAvailable = append(oldAvailable, pod)
		} else {
			oldUnavailable = append(oldUnavailable, pod)
		}
	}
	maxUnavail := maxUnavailable(v.ds, desired)
	out := oldUnavailable
	for _, p := range oldAvailable {
		if unavailable >= maxUnavail {
			break
		}
		out = append(out, p)
		unavailable++
	}
	return out
}

func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	mu := intstr.FromInt32(1)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		mu = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&mu, desired, true)
	if err != nil || n < 1 {
		// Zero would stall the rollout; upstream also treats it as 1 when
		// maxSurge is 0 (surge is not supported here).
		n = 1
	}
	return n
}

// firstLive returns the oldest pod not being deleted.
func firstLive(pods []*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			return p
		}
	}
	return nil
}

func (c *Controller) createPods(ctx context.Context, key string, v *view, nodes []string) error {
	if len(nodes) == 0 {
		return nil
	}
	c.exp.ExpectCreations(key, len(nodes))
	return parallel(len(nodes), func(i int) error {
		pod := newPod(v.ds, nodes[i], v.hash)
		created, err := c.client.CoreV1().Pods(v.ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			c.exp.CreationObserved(key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.opts.Recorder.Eventf(v.ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.opts.Recorder.Eventf(v.ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
		return nil
	})
}

func (c *Controller) deletePods(ctx context.Context, key string, ds *appsv1.DaemonSet, pods []*corev1.Pod) error {
	uids := make([]types.UID, len(pods))
	for i, p := range pods {
		uids[i] = p.UID
	}
	c.exp.ExpectDeletions(key, uids)
	return parallel(len(pods), func(i int) error {
		p := pods[i]
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil {
			c.exp.DeletionObserved(key, p.UID)
			if apierrors.IsNotFound(err) {
				return nil
			}
			c.opts.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			return err
		}
		c.opts.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		return nil
	})
}

// parallel runs fn(0..n-1) concurrently and aggregates the errors.
func parallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return utilerrors.NewAggregate(errs)
}
