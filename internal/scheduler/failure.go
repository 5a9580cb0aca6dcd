package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Condition reasons on PodScheduled=False, as upstream.
const (
	ReasonUnschedulable  = v1.PodReasonUnschedulable // "Unschedulable"
	ReasonSchedulerError = v1.PodReasonSchedulerError
)

// fail requeues a pod that could not be scheduled and tells the user why:
// a FailedScheduling event every attempt, and the PodScheduled condition
// (plus nominatedNodeName) patched only when it changes, so a pod that
// stays unschedulable does not generate a write per retry.
func (s *Scheduler) fail(ctx context.Context, fwk *framework.Framework, qpi *QueuedPodInfo, cycle int64, err error, nominated string, start time.Time) {
	pod := qpi.Pod
	reason, result := ReasonSchedulerError, resultError
	var fitErr *FitError
	var rej *rejectedError
	if errors.As(err, &fitErr) || errors.As(err, &rej) {
		reason, result = ReasonUnschedulable, resultUnschedulable
	}
	s.metrics.attempts.WithLabelValues(result, fwk.ProfileName()).Inc()
	s.metrics.attemptDuration.WithLabelValues(result, fwk.ProfileName()).Observe(s.clock.Since(start).Seconds())
	if reason == ReasonUnschedulable && cycle > 0 {
		s.queue.AddUnschedulable(qpi, cycle)
	} else {
		s.queue.AddBackoff(qpi)
	}
	msg := err.Error()
	if reason == ReasonSchedulerError {
		klog.FromContext(ctx).Error(err, "error scheduling pod; retrying", "pod", klog.KObj(pod))
	}
	s.recorder.Event(pod, v1.EventTypeWarning, "FailedScheduling", msg)
	s.bindWG.Add(1)
	go func() {
		defer s.bindWG.Done()
		if err := s.updateStatus(ctx, pod, reason, msg, nominated); err != nil && !apierrors.IsNotFound(err) {
			klog.FromContext(ctx).Error(err, "updating pod condition", "pod", klog.KObj(pod))
		}
	}()
}

// updateStatus patches status.conditions[PodScheduled] and
// status.nominatedNodeName with a strategic merge patch (conditions merge
// by type), skipping the write when nothing would change.
func (s *Scheduler) updateStatus(ctx context.Context, pod *v1.Pod, reason, msg, nominated string) error {
	if cur, err := s.podLister.Pods(pod.Namespace).Get(pod.Name); err == nil {
		if cur.UID != pod.UID || cur.Spec.NodeName != "" {
			return nil // replaced or bound meanwhile
		}
		pod = cur
	}
	since := metav1.NewTime(s.clock.Now())
	for _, c := range pod.Status.Conditions {
		if c.Type != v1.PodScheduled || c.Status != v1.ConditionFalse {
			continue
		}
		if c.Reason == reason && c.Message == msg && (nominated == "" || pod.Status.NominatedNodeName == nominated) {
			return nil
		}
		since = c.LastTransitionTime // still False: the transition time stays
	}
	type cond struct {
		Type               v1.PodConditionType `json:"type"`
		Status             v1.ConditionStatus  `json:"status"`
		Reason             string              `json:"reason"`
		Message            string              `json:"message"`
		LastProbeTime      *metav1.Time        `json:"lastProbeTime"`
		LastTransitionTime metav1.Time         `json:"lastTransitionTime"`
	}
	status := map[string]any{"conditions": []cond{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: reason,
		Message: msg, LastTransitionTime: since}}}
	if nominated != "" {
		status["nominatedNodeName"] = nominated
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "status")
	return err
}
