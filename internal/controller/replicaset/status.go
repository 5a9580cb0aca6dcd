package replicaset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

func secondsDur(s int32) time.Duration { return time.Duration(s) * time.Second }

// computeStatus derives the status from the owned active pods. A failed
// create sets ReplicaFailure; success clears it.
func computeStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	s := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: rs.Generation,
	}
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			s.FullyLabeledReplicas++
		}
		if ctrlutil.IsPodReady(p) {
			s.ReadyReplicas++
			if ctrlutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
	}
	for _, c := range rs.Status.Conditions {
		if c.Type != appsv1.ReplicaSetReplicaFailure {
			s.Conditions = append(s.Conditions, c)
		}
	}
	if manageErr != nil && int32(len(pods)) < replicas(rs) {
		cond := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			Reason: "FailedCreate", Message: manageErr.Error(), LastTransitionTime: metav1.NewTime(now)}
		if old := failureCondition(rs); old != nil && old.Reason == cond.Reason && old.Message == cond.Message {
			cond.LastTransitionTime = old.LastTransitionTime
		}
		s.Conditions = append(s.Conditions, cond)
	}
	return s
}

func failureCondition(rs *appsv1.ReplicaSet) *appsv1.ReplicaSetCondition {
	for i := range rs.Status.Conditions {
		if rs.Status.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
			return &rs.Status.Conditions[i]
		}
	}
	return nil
}

// writeStatus updates status only when it changed, to spare the API server
// and the watchers of every ReplicaSet a write per sync.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, s appsv1.ReplicaSetStatus) error {
	if apiequality.Semantic.DeepEqual(rs.Status, s) {
		return nil
	}
	cp := rs.DeepCopy()
	cp.Status = s
	return c.kind.updateStatus(ctx, cp)
}
