package deployment

import (
	"context"
	"math"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// isScalingEvent: some active RS was last sized for a different deployment
// size, i.e. only spec.replicas changed.
func (c *Controller) isScalingEvent(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) bool {
	newRS, old := split(d, rsList)
	for _, rs := range active(append(old, newRS)) {
		v, ok := rs.Annotations[DesiredReplicasAnnotation]
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && int32(n) != desired(d) {
			return true
		}
	}
	return false
}

// syncScale handles a size change (or a paused deployment) without moving
// the rollout: the extra or missing replicas are spread over the active
// ReplicaSets in proportion to their size.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	updated, err := c.scale(ctx, d, newRS, old)
	if err != nil {
		return err
	}
	// Use the written objects so the status reflects the new sizes.
	pick := func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
		if rs != nil && updated[rs.Name] != nil {
			return updated[rs.Name]
		}
		return rs
	}
	newRS = pick(newRS)
	for i := range old {
		old[i] = pick(old[i])
	}
	all := append(append([]*appsv1.ReplicaSet{}, old...), newRS)
	if s := c.calculateStatus(d, all, newRS); complete(d, &s) && !d.Spec.Paused {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.writeStatus(ctx, d, all, newRS)
}

// scale returns the ReplicaSets it wrote, by name.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) (map[string]*appsv1.ReplicaSet, error) {
	out := map[string]*appsv1.ReplicaSet{}
	write := func(rs *appsv1.ReplicaSet, n int32) error {
		u, _, err := c.scaleRS(ctx, d, rs, n)
		if err == nil {
			out[rs.Name] = u
		}
		return err
	}
	act := active(append(append([]*appsv1.ReplicaSet{}, old...), newRS))
	// Only one RS running (or none): it simply takes the new size.
	if len(act) <= 1 {
		target := newRS
		if len(act) == 1 {
			target = act[0]
		} else if target == nil {
			target = latest(old)
		}
		if target == nil {
			return out, nil
		}
		return out, write(target, desired(d))
	}
	// The new RS is saturated: old ones go to zero.
	if newRS != nil && replicasOf(newRS) == desired(d) && newRS.Status.AvailableReplicas == desired(d) {
		for _, rs := range old {
			if err := write(rs, 0); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	if !isRolling(d) {
		return out, nil
	}
	allowed := desired(d) + maxSurge(d)
	total, _, _, _ := sumReplicas(act)
	toAdd := allowed - total
	if toAdd == 0 {
		return out, nil
	}
	// Biggest first; ties go to the newest when growing, the oldest when shrinking.
	sort.SliceStable(act, func(i, j int) bool {
		if replicasOf(act[i]) != replicasOf(act[j]) {
			return replicasOf(act[i]) > replicasOf(act[j])
		}
		a, b := act[i].CreationTimestamp, act[j].CreationTimestamp
		if toAdd > 0 {
			return b.Before(&a)
		}
		return a.Before(&b)
	})
	sizes := make([]int32, len(act))
	var added int32
	for i, rs := range act {
		sizes[i] = replicasOf(rs)
		if toAdd == added || replicasOf(rs) == 0 {
			continue
		}
		p := proportion(d, rs, toAdd, added)
		sizes[i] += p
		added += p
	}
	// Rounding leftovers go to the first (largest) ReplicaSet.
	sizes[0] = max(sizes[0]+toAdd-added, 0)
	for i, rs := range act {
		if err := write(rs, sizes[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// proportion is rs's share of the change, from the size it was last scaled
// for (max-replicas annotation) to the new allowed size, capped by what is
// left to distribute.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	allowed := toAdd - added
	var frac int32
	if desired(d) == 0 {
		frac = -replicasOf(rs)
	} else {
		newTotal := desired(d) + maxSurge(d)
		annotated, err := strconv.Atoi(rs.Annotations[MaxReplicasAnnotation])
		if err != nil || annotated == 0 {
			annotated = int(d.Status.Replicas)
		}
		if annotated == 0 {
			annotated = int(newTotal)
		}
		size := float64(replicasOf(rs)) * float64(newTotal) / float64(annotated)
		frac = int32(math.Round(size)) - replicasOf(rs)
	}
	if toAdd > 0 {
		return min(frac, allowed)
	}
	return max(frac, allowed)
}

func latest(rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	var out *appsv1.ReplicaSet
	for _, rs := range rss {
		if out == nil || out.CreationTimestamp.Before(&rs.CreationTimestamp) {
			out = rs
		}
	}
	return out
}
