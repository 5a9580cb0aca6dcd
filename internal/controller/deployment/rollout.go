package deployment

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// rolloutRolling makes one step of a rolling update: grow the new RS into
// the surge room, else shrink old ones within maxUnavailable, then report.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet{}, old...), newRS)

	scaledUp, newRS, err := c.reconcileNewRS(ctx, d, all, newRS)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, d, append(old, newRS), newRS)
	}
	all = append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	scaledDown, old, err := c.reconcileOldRSs(ctx, d, all, old, newRS)
	if err != nil {
		return err
	}
	all = append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	if scaledDown {
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	if s := c.calculateStatus(d, all, newRS); complete(d, &s) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

func (c *Controller) reconcileNewRS(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, *appsv1.ReplicaSet, error) {
	want := desired(d)
	if replicasOf(newRS) > want {
		updated, scaled, err := c.scaleRS(ctx, d, newRS, want)
		return scaled, updated, err
	}
	if replicasOf(newRS) == want {
		return false, newRS, nil
	}
	updated, scaled, err := c.scaleRS(ctx, d, newRS, newRSReplicas(d, all, newRS))
	return scaled, updated, err
}

// reconcileOldRSs scales old ReplicaSets down as far as maxUnavailable
// allows: first their unhealthy replicas (which cost no availability), then
// the oldest healthy ones.
func (c *Controller) reconcileOldRSs(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, []*appsv1.ReplicaSet, error) {
	oldTotal, _, _, _ := sumReplicas(old)
	if oldTotal == 0 {
		return false, old, nil
	}
	allTotal, _, _, _ := sumReplicas(all)
	_, unavail := fenceposts(d)
	minAvailable := desired(d) - unavail
	newUnavailable := replicasOf(newRS) - newRS.Status.AvailableReplicas
	maxScaleDown := allTotal - minAvailable - newUnavailable
	if maxScaleDown <= 0 {
		return false, old, nil
	}
	old = append([]*appsv1.ReplicaSet(nil), old...)
	byCreation(old)

	var total int32
	// Unhealthy old replicas can go without lowering availability.
	for i, rs := range old {
		if total >= maxScaleDown {
			break
		}
		unhealthy := replicasOf(rs) - rs.Status.AvailableReplicas
		if replicasOf(rs) == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxScaleDown-total, unhealthy)
		updated, _, err := c.scaleRS(ctx, d, rs, replicasOf(rs)-n)
		if err != nil {
			return false, nil, err
		}
		old[i] = updated
		total += n
	}
	// Then healthy ones, keeping minAvailable available.
	all = append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	available := availableAtMost(all)
	if available > minAvailable {
		budget := available - minAvailable
		var done int32
		for i, rs := range old {
			if done >= budget {
				break
			}
			if replicasOf(rs) == 0 {
				continue
			}
			n := min(replicasOf(rs), budget-done)
			updated, _, err := c.scaleRS(ctx, d, rs, replicasOf(rs)-n)
			if err != nil {
				return false, nil, err
			}
			old[i] = updated
			done += n
		}
		total += done
	}
	return total > 0, old, nil
}

// rolloutRecreate: scale every old RS to zero, wait for their pods to be
// gone, then create or scale the new RS to full size.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	scaled := false
	for i, rs := range old {
		if replicasOf(rs) == 0 {
			continue
		}
		updated, s, err := c.scaleRS(ctx, d, rs, 0)
		if err != nil {
			return err
		}
		old[i], scaled = updated, scaled || s
	}
	all := append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	if scaled {
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	running, err := c.oldPodsRunning(d, newRS, old)
	if err != nil {
		return err
	}
	if running {
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	if newRS == nil {
		if newRS, old, err = c.getAllReplicaSets(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	if newRS, _, err = c.scaleRS(ctx, d, newRS, desired(d)); err != nil {
		return err
	}
	all = append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	if s := c.calculateStatus(d, all, newRS); complete(d, &s) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// oldPodsRunning reports whether any pod of an old RS still exists in a
// non-terminal phase (terminating pods count: Recreate means no overlap).
func (c *Controller) oldPodsRunning(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) (bool, error) {
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true, nil
		}
	}
	pods, err := c.podLister.Pods(d.Namespace).List(labels.Everything())
	if err != nil {
		return false, err
	}
	oldUIDs := map[string]bool{}
	for _, rs := range old {
		oldUIDs[string(rs.UID)] = true
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil || !oldUIDs[string(ref.UID)] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return true, nil
		}
	}
	return false, nil
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond
// revisionHistoryLimit (default 10).
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	limit := int32(10)
	if d.Spec.RevisionHistoryLimit != nil {
		limit = *d.Spec.RevisionHistoryLimit
	}
	var cleanable []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs != nil && rs.DeletionTimestamp == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := int32(len(cleanable)) - limit
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(cleanable, func(i, j int) bool {
		return revision(cleanable[i].Annotations) < revision(cleanable[j].Annotations)
	})
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || replicasOf(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}
