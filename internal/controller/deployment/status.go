package deployment

import (
	"context"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as kubectl and users know them.
const (
	NewRSReason              = "NewReplicaSetCreated"
	FoundNewRSReason         = "FoundNewReplicaSet"
	RSUpdatedReason          = "ReplicaSetUpdated"
	NewRSAvailableReason     = "NewReplicaSetAvailable"
	TimedOutReason           = "ProgressDeadlineExceeded"
	FailedRSCreateReason     = "ReplicaSetCreateError"
	PausedReason             = "DeploymentPaused"
	ResumedReason            = "DeploymentResumed"
	MinimumAvailableReason   = "MinimumReplicasAvailable"
	MinimumUnavailableReason = "MinimumReplicasUnavailable"
)

func newCondition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

func getCondition(s *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

func progressingCondition(s *appsv1.DeploymentStatus) *appsv1.DeploymentCondition {
	return getCondition(s, appsv1.DeploymentProgressing)
}

// setCondition replaces the condition of the same type. An identical
// status+reason is left alone (so timestamps do not churn); a same-status
// change keeps the original transition time.
func setCondition(s *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(s, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(s, c.Type)
	s.Conditions = append(s.Conditions, c)
}

func removeCondition(s *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range s.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	s.Conditions = out
}

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// calculateStatus sums the ReplicaSets and sets the Available condition.
func (c *Controller) calculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	spec, actual, ready, available := sumReplicas(all)
	_, updated, _, _ := sumReplicas([]*appsv1.ReplicaSet{newRS})
	s := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            actual,
		UpdatedReplicas:     updated,
		ReadyReplicas:       ready,
		AvailableReplicas:   available,
		UnavailableReplicas: max(spec-available, 0),
		CollisionCount:      d.Status.CollisionCount,
	}
	s.Conditions = append(s.Conditions, d.Status.Conditions...)
	now := c.opts.Clock.Now()
	if available >= desired(d)-maxUnavailable(d) {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumAvailableReason, "Deployment has minimum availability.", now))
	} else {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumUnavailableReason, "Deployment does not have minimum availability.", now))
	}
	return s
}

// complete: every desired replica is updated and available and nothing else runs.
func complete(d *appsv1.Deployment, s *appsv1.DeploymentStatus) bool {
	n := desired(d)
	return s.UpdatedReplicas == n && s.Replicas == n && s.AvailableReplicas == n && s.ObservedGeneration >= d.Generation
}

// progressing: the new status shows movement compared with the old one.
func progressing(d *appsv1.Deployment, s *appsv1.DeploymentStatus) bool {
	old := d.Status
	oldStale, newStale := old.Replicas-old.UpdatedReplicas, s.Replicas-s.UpdatedReplicas
	return s.UpdatedReplicas > old.UpdatedReplicas || newStale < oldStale ||
		s.ReadyReplicas > old.ReadyReplicas || s.AvailableReplicas > old.AvailableReplicas
}

func (c *Controller) timedOut(d *appsv1.Deployment, s *appsv1.DeploymentStatus) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	cond := progressingCondition(s)
	if cond == nil || cond.Reason == NewRSAvailableReason {
		return false
	}
	if cond.Reason == TimedOutReason {
		return true
	}
	deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(c.opts.Clock.Now())
}

// syncRolloutStatus computes the status including the Progressing
// condition and writes it if it changed; otherwise it schedules a look at the
// progress deadline.
func (c *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	s := c.calculateStatus(d, all, newRS)
	now := c.opts.Clock.Now()
	if !hasProgressDeadline(d) {
		removeCondition(&s, appsv1.DeploymentProgressing)
	}
	cur := progressingCondition(&s)
	isComplete := complete(d, &s)
	if hasProgressDeadline(d) && !(cur != nil && cur.Reason == TimedOutReason) {
		name := ""
		if newRS != nil {
			name = newRS.Name
		}
		switch {
		case isComplete:
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewRSAvailableReason,
				fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), now))
		case progressing(d, &s):
			cond := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, RSUpdatedReason,
				fmt.Sprintf("ReplicaSet %q is progressing.", name), now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				cond.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&s, appsv1.DeploymentProgressing)
			s.Conditions = append(s.Conditions, cond)
		case c.timedOut(d, &s):
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, TimedOutReason,
				fmt.Sprintf("ReplicaSet %q has timed out progressing.", name), now))
			c.opts.Recorder.Eventf(d, corev1.EventTypeWarning, TimedOutReason, "Deployment %q has timed out progressing.", d.Name)
		}
	}
	if apiequality.Semantic.DeepEqual(d.Status, s) {
		c.requeueStuck(d, &s, isComplete)
		return nil
	}
	d.Status = s
	_, err := c.updateStatus(ctx, d)
	return err
}

// requeueStuck schedules a sync at the progress deadline, since nothing else
// would trigger one for a rollout that simply stopped moving.
func (c *Controller) requeueStuck(d *appsv1.Deployment, s *appsv1.DeploymentStatus, isComplete bool) {
	cond := progressingCondition(s)
	if !hasProgressDeadline(d) || cond == nil || isComplete || cond.Reason == TimedOutReason {
		return
	}
	deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	after := deadline.Sub(c.opts.Clock.Now())
	key := d.Namespace + "/" + d.Name
	if after < time.Second {
		c.loop.Queue.AddRateLimited(key)
		return
	}
	c.loop.Queue.AddAfter(key, after)
}

// syncStatusOnly writes the status without touching the rollout (paused,
// scaling, deleting).
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.writeStatus(ctx, d, append(old, newRS), newRS)
}

func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	s := c.calculateStatus(d, all, newRS)
	if apiequality.Semantic.DeepEqual(d.Status, s) {
		return nil
	}
	d.Status = s
	_, err := c.updateStatus(ctx, d)
	return err
}

// checkPausedCondition flips Progressing to DeploymentPaused/Resumed (Unknown).
func (c *Controller) checkPausedCondition(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := progressingCondition(&d.Status)
	if cond != nil && cond.Reason == TimedOutReason {
		return nil
	}
	pausedNow := cond != nil && cond.Reason == PausedReason
	now := c.opts.Clock.Now()
	switch {
	case d.Spec.Paused && !pausedNow:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, PausedReason, "Deployment is paused", now))
	case !d.Spec.Paused && pausedNow:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ResumedReason, "Deployment is resumed", now))
	default:
		return nil
	}
	_, err := c.updateStatus(ctx, d)
	return err
}

// updateStatus writes d's status and keeps d's resourceVersion current so
// later writes in the same sync do not conflict with our own.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	d.ResourceVersion = updated.ResourceVersion
	return updated, nil
}
