package replicaset

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := splitKey(key)
	if err != nil {
		return nil // a malformed key will never succeed
	}
	rs, err := c.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // invalid selector: validation should have refused it
	}
	needsSync := c.exp.Satisfied(key) && rs.DeletionTimestamp == nil

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		if ctrlutil.IsPodActive(p) {
			active = append(active, p)
		}
	}
	pods, err := c.claimPods(ctx, rs, selector, active)
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync {
		manageErr = c.manageReplicas(ctx, key, rs, pods)
	}
	newStatus := computeStatus(rs, pods, manageErr, c.opts.Clock.Now())
	if err := c.writeStatus(ctx, rs, newStatus); err != nil {
		return err
	}
	if manageErr == nil && rs.Spec.MinReadySeconds > 0 &&
		newStatus.ReadyReplicas == replicas(rs) && newStatus.AvailableReplicas != replicas(rs) {
		c.loop.Queue.AddAfter(key, secondsDur(rs.Spec.MinReadySeconds))
	}
	return manageErr
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// claimPods adopts matching orphans and releases owned pods that no longer
// match, returning the pods this controller now owns.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var owned []*corev1.Pod
	var errs []error
	adoptChecked := false
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		matches := sel.Matches(labels.Set(p.Labels))
		switch {
		case ref != nil && ref.UID == rs.UID:
			if matches {
				owned = append(owned, p)
				continue
			}
			if rs.DeletionTimestamp != nil {
				continue
			}
			if err := c.release(ctx, rs, p); err != nil {
				errs = append(errs, err)
			}
		case ref == nil && matches && rs.DeletionTimestamp == nil && p.DeletionTimestamp == nil:
			if !adoptChecked {
				// The cache may hold a deleted-and-recreated controller;
				// only adopt on behalf of the live object with our UID.
				live, err := c.kind.getLive(ctx, rs.Namespace, rs.Name)
				if err != nil {
					return nil, err
				}
				if live.GetUID() != rs.UID || live.GetDeletionTimestamp() != nil {
					return nil, fmt.Errorf("%s/%s: stale cache, not adopting", rs.Namespace, rs.Name)
				}
				adoptChecked = true
			}
			if err := c.adopt(ctx, rs, p); err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			owned = append(owned, p)
		}
	}
	return owned, utilerrors.NewAggregate(errs)
}

// adopt sets a controller ownerReference on the pod. The strategic-merge
// patch carries the pod's UID as a precondition.
func (c *Controller) adopt(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	gvk := c.kind.gvk()
	ref := ctrlutil.NewControllerRef(rs, gvk.GroupVersion().String(), gvk.Kind)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{*ref}, "uid": p.UID}})
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// release removes our ownerReference from a pod that stopped matching.
func (c *Controller) release(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": rs.UID}}, "uid": p.UID}})
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil // gone, or the UID precondition failed: nothing to release
	}
	return err
}

// manageReplicas creates or deletes pods towards spec.replicas.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.opts.BurstReplicas)
		c.exp.ExpectCreations(key, n)
		created, err := slowStartBatch(n, 1, func() error { return c.createPod(ctx, rs) })
		// Pods never requested will never be observed.
		for range n - created {
			c.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.opts.BurstReplicas)
		victims := podsToDelete(pods, n)
		uids := make([]types.UID, len(victims))
		for i, p := range victims {
			uids[i] = p.UID
		}
		c.exp.ExpectDeletions(key, uids)
		return c.deletePods(ctx, key, rs, victims)
	}
	return nil
}

// createPod issues one create; a failed request lowers the expectation itself.
// The returned count in slowStartBatch only covers issued requests.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	gvk := c.kind.gvk()
	pod := podFromTemplate(rs, ctrlutil.NewControllerRef(rs, gvk.GroupVersion().String(), gvk.Kind))
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		c.exp.CreationObserved(rs.Namespace + "/" + rs.Name)
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away; nothing to converge
		}
		c.opts.Recorder.Eventf(c.eventObject(rs), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.opts.Recorder.Eventf(c.eventObject(rs), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
	return nil
}

func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, victims []*corev1.Pod) error {
	var wg sync.WaitGroup
	errCh := make(chan error, len(victims))
	for _, p := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil {
				// No event will come for a failed delete; a NotFound pod is
				// already gone and its event may have been missed too.
				c.exp.DeletionObserved(key, p.UID)
				if apierrors.IsNotFound(err) {
					return
				}
				c.opts.Recorder.Eventf(c.eventObject(rs), corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errCh <- err
				return
			}
			c.opts.Recorder.Eventf(c.eventObject(rs), corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}()
	}
	wg.Wait()
	close(errCh)
	var errs []error
	for err := range errCh {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

// eventObject is the object events are attached to: the RS itself, or for an
// RC a reference with the right kind (the adapter's RS view has no TypeMeta).
func (c *Controller) eventObject(rs *appsv1.ReplicaSet) *corev1.ObjectReference {
	gvk := c.kind.gvk()
	return &corev1.ObjectReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID, ResourceVersion: rs.ResourceVersion}
}

// slowStartBatch calls fn count times in batches of 1, 2, 4 ... run in
// parallel, stopping after the first batch with a failure, so a systematic
// error (quota, admission) costs one request rather than hundreds. It returns
// how many calls were issued and the first error.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	issued := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-issued) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errCh <- err
				}
			}()
		}
		wg.Wait()
		issued += batch
		close(errCh)
		if err, ok := <-errCh; ok {
			return issued, err
		}
	}
	return issued, nil
}
