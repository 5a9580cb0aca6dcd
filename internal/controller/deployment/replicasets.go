package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// claimReplicaSets returns the ReplicaSets d owns, adopting matching orphans
// and releasing owned ones whose labels stopped matching.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var owned []*appsv1.ReplicaSet
	checked := false
	for _, rs := range all {
		ref := metav1.GetControllerOf(rs)
		matches := sel.Matches(labels.Set(rs.Labels))
		switch {
		case ref != nil && ref.UID == d.UID:
			if matches || d.DeletionTimestamp != nil {
				owned = append(owned, rs)
				continue
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
				"ownerReferences": []map[string]any{{"$patch": "delete", "uid": d.UID}}, "uid": rs.UID}})
			if _, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		case ref == nil && matches && d.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			if !checked {
				live, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				if live.UID != d.UID || live.DeletionTimestamp != nil {
					return nil, fmt.Errorf("deployment %s/%s: stale cache, not adopting", d.Namespace, d.Name)
				}
				checked = true
			}
			ref := ctrlutil.NewControllerRef(d, controllerKind.GroupVersion().String(), controllerKind.Kind)
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
				"ownerReferences": []metav1.OwnerReference{*ref}, "uid": rs.UID}})
			adopted, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			owned = append(owned, adopted)
		}
	}
	return owned, nil
}

// split finds the ReplicaSet whose template equals the deployment's (the
// oldest if several do) and returns it with the others.
func split(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	byCreation(sorted)
	for _, rs := range sorted {
		if newRS == nil && templatesEqual(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// getAllReplicaSets splits rsList into the new and old ReplicaSets, moves the
// revision to the new one (so a rollback to an old template takes the next
// revision number), and creates the new one if create is set and none exists.
func (c *Controller) getAllReplicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := split(d, rsList)
	var maxOld int64
	for _, rs := range old {
		maxOld = max(maxOld, revision(rs.Annotations))
	}
	next := strconv.FormatInt(maxOld+1, 10)
	var err error
	switch {
	case newRS != nil:
		newRS, err = c.syncExistingNewRS(ctx, d, newRS, next)
	case create:
		newRS, err = c.createNewRS(ctx, d, rsList, old, next)
	default:
		return nil, old, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return newRS, old, c.setDeploymentRevision(ctx, d, newRS.Annotations[RevisionAnnotation])
}

// setRSAnnotations copies the deployment's annotations onto rs and sets the
// revision bookkeeping; it reports whether anything changed.
func setRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, next string) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if skipCopy(k) || rs.Annotations[k] == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	cur := rs.Annotations[RevisionAnnotation]
	curN, _ := strconv.ParseInt(cur, 10, 64)
	nextN, _ := strconv.ParseInt(next, 10, 64)
	if curN < nextN {
		if cur != "" { // keep the revisions this template already had, for rollout history
			hist := rs.Annotations[RevisionHistoryAnnotation]
			if hist == "" {
				rs.Annotations[RevisionHistoryAnnotation] = cur
			} else {
				rs.Annotations[RevisionHistoryAnnotation] = hist + "," + cur
			}
		}
		rs.Annotations[RevisionAnnotation] = next
		changed = true
	}
	return changed
}

func skipCopy(k string) bool {
	switch k {
	case lastAppliedAnnotation, RevisionAnnotation, RevisionHistoryAnnotation,
		DesiredReplicasAnnotation, MaxReplicasAnnotation, "deprecated.deployment.rollback.to":
		return true
	}
	return false
}

// setReplicasAnnotations records the deployment size the RS was scaled for;
// proportional scaling reads it back.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	changed := rs.Annotations[DesiredReplicasAnnotation] != d || rs.Annotations[MaxReplicasAnnotation] != m
	rs.Annotations[DesiredReplicasAnnotation] = d
	rs.Annotations[MaxReplicasAnnotation] = m
	return changed
}

func (c *Controller) syncExistingNewRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, next string) (*appsv1.ReplicaSet, error) {
	cp := rs.DeepCopy()
	changed := setRSAnnotations(d, cp, next)
	if cp.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		cp.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		changed = true
	}
	if changed {
		updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, err
		}
		cp = updated
	}
	if progressingCondition(&d.Status) == nil && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, FoundNewRSReason,
			fmt.Sprintf("Found new replica set %q", cp.Name), c.opts.Clock.Now()))
		if _, err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

func (c *Controller) createNewRS(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, next string) (*appsv1.ReplicaSet, error) {
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      d.Name + "-" + hash,
			Namespace: d.Namespace,
			Labels:    tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{
				*ctrlutil.NewControllerRef(d, controllerKind.GroupVersion().String(), controllerKind.Kind)},
		},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: *tmpl, MinReadySeconds: d.Spec.MinReadySeconds},
	}
	n := newRSReplicas(d, all, nil)
	rs.Spec.Replicas = &n
	setRSAnnotations(d, rs, next)
	setReplicasAnnotations(rs, desired(d), desired(d)+maxSurge(d))

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := c.rsLister.ReplicaSets(d.Namespace).Get(rs.Name)
		if gerr == nil {
			if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == d.UID &&
				templatesEqual(&existing.Spec.Template, &d.Spec.Template) {
				return existing, nil // our own RS, the cache was behind
			}
		}
		// A different object holds the name: bump collisionCount so the
		// next hash, and name, differ.
		cc := int32(0)
		if d.Status.CollisionCount != nil {
			cc = *d.Status.CollisionCount
		}
		cc++
		d.Status.CollisionCount = &cc
		if _, uerr := c.updateStatus(ctx, d); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("deployment %s/%s: hash collision on %s, collisionCount now %d", d.Namespace, d.Name, rs.Name, cc)
	}
	if err != nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, FailedRSCreateReason,
			fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err), c.opts.Clock.Now()))
		c.opts.Recorder.Eventf(d, corev1.EventTypeWarning, FailedRSCreateReason, "Failed to create new replica set %q: %v", rs.Name, err)
		if _, uerr := c.updateStatus(ctx, d); uerr != nil {
			return nil, uerr
		}
		return nil, err
	}
	if n > 0 {
		c.opts.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	if hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewRSReason,
			fmt.Sprintf("Created new replica set %q", created.Name), c.opts.Clock.Now()))
		if _, err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

func withLabel(m map[string]string, hash string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	return out
}

// setDeploymentRevision mirrors the new RS's revision onto the deployment
// with a metadata patch (status writes may not carry annotations).
func (c *Controller) setDeploymentRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if rev == "" || d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{RevisionAnnotation: rev}}})
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return err
	}
	d.Annotations = updated.Annotations
	d.ResourceVersion = updated.ResourceVersion
	return nil
}

// scaleRS sets rs's replicas (and the size annotations) and records an event.
// It returns the updated RS and whether a write happened.
func (c *Controller) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, bool, error) {
	cp := rs.DeepCopy()
	annChanged := setReplicasAnnotations(cp, desired(d), desired(d)+maxSurge(d))
	if replicasOf(rs) == n && !annChanged {
		return rs, false, nil
	}
	from := replicasOf(rs)
	cp.Spec.Replicas = &n
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, false, err
	}
	if from != n {
		dir := "up"
		if n < from {
			dir = "down"
		}
		c.opts.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, n)
	}
	return updated, from != n, nil
}

// newRSReplicas is how big the new RS may be now: for RollingUpdate, grow
// into the surge room left by the total; for Recreate, the full size.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if !isRolling(d) {
		return desired(d)
	}
	cur := replicasOf(newRS)
	total, _, _, _ := sumReplicas(all)
	maxTotal := desired(d) + maxSurge(d)
	if total >= maxTotal {
		return cur
	}
	up := min(maxTotal-total, desired(d)-cur)
	return cur + max(up, 0)
}
