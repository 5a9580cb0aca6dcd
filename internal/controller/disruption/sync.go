package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

var metaAccessor = meta.Accessor

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := selectorOf(pdb)
	if err != nil {
		return c.fail(ctx, pdb, err)
	}
	pods, err := c.pods.Pods(ns).List(sel)
	if err != nil {
		return err
	}
	expected, desired, err := c.budget(pdb, pods)
	if err != nil {
		return c.fail(ctx, pdb, err)
	}
	now := c.opts.Clock.Now()
	disrupted, recheck := prune(pdb, pods, now)
	var healthy int32
	for _, p := range pods {
		if _, gone := disrupted[p.Name]; p.DeletionTimestamp == nil && !gone && ctrlutil.IsPodReady(p) {
			healthy++
		}
	}
	allowed := healthy - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st := pdb.Status.DeepCopy()
	st.ObservedGeneration = pdb.Generation
	st.DisruptionsAllowed = allowed
	st.CurrentHealthy = healthy
	st.DesiredHealthy = desired
	st.ExpectedPods = expected
	st.DisruptedPods = disrupted
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, ObservedGeneration: pdb.Generation,
		Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason}
	if allowed > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	setCondition(st, cond, now)
	if recheck != nil {
		c.loop.Queue.AddAfter(key, recheck.Sub(now)+time.Second)
	}
	return c.write(ctx, pdb, st)
}

// setCondition keeps lastTransitionTime unless the status flips.
func setCondition(st *policyv1.PodDisruptionBudgetStatus, cond metav1.Condition, now time.Time) {
	cond.LastTransitionTime = metav1.NewTime(now)
	if old := meta.FindStatusCondition(st.Conditions, cond.Type); old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	meta.RemoveStatusCondition(&st.Conditions, cond.Type)
	st.Conditions = append(st.Conditions, cond)
}

// fail records that the budget cannot be computed: no disruptions allowed.
func (c *Controller) fail(ctx context.Context, pdb *policyv1.PodDisruptionBudget, cause error) error {
	st := pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	st.ObservedGeneration = pdb.Generation
	setCondition(st, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, ObservedGeneration: pdb.Generation,
		Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason, Message: cause.Error()}, c.opts.Clock.Now())
	if err := c.write(ctx, pdb, st); err != nil {
		return err
	}
	return cause
}

func (c *Controller) write(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st *policyv1.PodDisruptionBudgetStatus) error {
	if equality.Semantic.DeepEqual(&pdb.Status, st) {
		return nil
	}
	cp := pdb.DeepCopy()
	cp.Status = *st
	_, err := c.client.PolicyV1().PodDisruptionBudgets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return err
}

// budget returns expectedPods and desiredHealthy.
func (c *Controller) budget(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, int32, error) {
	minA, maxU := pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable
	if minA != nil && minA.Type == intstr.Int {
		return int32(len(pods)), minA.IntVal, nil
	}
	expected := c.scale(pods)
	switch {
	case maxU != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(maxU, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(0, expected-int32(n)), nil
	case minA != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(minA, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(n), nil
	}
	// Neither set: nothing may be disrupted.
	return expected, expected, nil
}

// scale sums the replicas of the pods' distinct controllers; a pod whose
// controller is unknown counts as one.
func (c *Controller) scale(pods []*corev1.Pod) int32 {
	seen := map[types.UID]bool{}
	var total int32
	for _, p := range pods {
		uid, n, ok := c.controllerScale(p)
		if !ok {
			total++
			continue
		}
		if !seen[uid] {
			seen[uid] = true
			total += n
		}
	}
	return total
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func (c *Controller) controllerScale(p *corev1.Pod) (types.UID, int32, bool) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", 0, false
	}
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.rs.ReplicaSets(p.Namespace).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false
		}
		if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
			if d, err := c.deps.Deployments(p.Namespace).Get(dref.Name); err == nil && d.UID == dref.UID {
				return d.UID, replicas(d.Spec.Replicas), true
			}
		}
		return rs.UID, replicas(rs.Spec.Replicas), true
	case "StatefulSet":
		s, err := c.sts.StatefulSets(p.Namespace).Get(ref.Name)
		if err != nil || s.UID != ref.UID {
			return "", 0, false
		}
		return s.UID, replicas(s.Spec.Replicas), true
	case "ReplicationController":
		rc, err := c.rcs.ReplicationControllers(p.Namespace).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, false
		}
		return rc.UID, replicas(rc.Spec.Replicas), true
	}
	return "", 0, false
}

// prune keeps disruptedPods entries whose pod still exists, is not yet being
// deleted, and whose eviction is younger than DeletionTimeout; it returns the
// earliest time a kept entry expires.
func prune(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, *time.Time) {
	if len(pdb.Status.DisruptedPods) == 0 {
		return nil, nil
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var recheck *time.Time
	for name, at := range pdb.Status.DisruptedPods {
		p := byName[name]
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		expiry := at.Add(DeletionTimeout)
		if !expiry.After(now) {
			continue
		}
		out[name] = at
		if recheck == nil || expiry.Before(*recheck) {
			recheck = &expiry
		}
	}
	if len(out) == 0 {
		return nil, recheck
	}
	return out, recheck
}
