package kubelet

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

// buildStatus derives the pod status from the runtime state and the worker's
// probe results and waiting reasons.
func (w *worker) buildStatus(obs *observed) *corev1.PodStatus {
	p := w.pod
	st := &corev1.PodStatus{
		HostIP:    w.k.nodeIP.String(),
		HostIPs:   []corev1.HostIP{{IP: w.k.nodeIP.String()}},
		QOSClass:  qosClass(p),
		StartTime: p.Status.StartTime,
	}
	if st.StartTime == nil {
		now := metav1.Now()
		st.StartTime = &now
	}
	if ip := sandboxIP(p, obs, w.k.nodeIP.String()); ip != "" {
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
		for _, extra := range obs.sandboxStatus.GetNetwork().GetAdditionalIps() {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: extra.Ip})
		}
	}
	initDone, initFailed := true, false
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		cs := w.containerStatus(c, obs, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
			if p.Spec.RestartPolicy == corev1.RestartPolicyNever && cs.State.Terminated != nil {
				initFailed = true
			}
		}
	}
	for _, c := range p.Spec.Containers {
		if obs.latest(c.Name) != nil {
			initDone = true // app containers started: init finished earlier
		}
	}
	allReady := len(p.Spec.Containers) > 0
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		cs := w.containerStatus(c, obs, initDone)
		if !cs.Ready {
			allReady = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = podPhase(p, st, initDone, initFailed)
	if st.Phase == corev1.PodFailed || st.Phase == corev1.PodSucceeded {
		allReady = false
	}
	sandboxReady := obs.sandbox != nil
	st.Conditions = mergeConditions(p.Status.Conditions,
		cond(corev1.PodReadyToStartContainers, sandboxReady, "", ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized", "containers with incomplete status: "+strings.Join(notDone(st.InitContainerStatuses), ", ")),
		cond(corev1.ContainersReady, allReady, "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady(st.ContainerStatuses), " ")+"]"),
		cond(corev1.PodReady, allReady, "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady(st.ContainerStatuses), " ")+"]"),
	)
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		for i := range st.Conditions {
			if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
				st.Conditions[i].Reason = "PodCompleted"
				st.Conditions[i].Message = ""
			}
		}
	}
	return st
}

func sandboxIP(p *corev1.Pod, obs *observed, nodeIP string) string {
	if obs.sandbox == nil {
		return ""
	}
	if p.Spec.HostNetwork {
		return nodeIP
	}
	return obs.sandboxStatus.GetNetwork().GetIp()
}

// containerStatus reports c: the newest attempt's state, the previous attempt as
// lastState, restartCount = the attempt number.
func (w *worker) containerStatus(c *corev1.Container, obs *observed, initDone bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	attempts := obs.containers[c.Name]
	wait, waiting := w.waiting[c.Name]
	if len(attempts) == 0 {
		reason := "ContainerCreating"
		if !initDone {
			reason = "PodInitializing"
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		if w.podWaiting.reason != "" {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.podWaiting.reason, Message: w.podWaiting.message}
		}
		if waiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: wait.reason, Message: wait.message}
		}
		return cs
	}
	cur := attempts[0]
	cs.ContainerID = w.k.runtimeName() + "://" + cur.Id
	cs.ImageID = cur.ImageRef
	if cur.GetImage().GetImage() != "" && !strings.HasPrefix(cur.GetImage().GetImage(), "sha256:") {
		cs.Image = cur.GetImage().GetImage()
	}
	cs.RestartCount = int32(cur.GetMetadata().GetAttempt())
	cs.State = runtimeState(cur, w.k.runtimeName())
	if len(attempts) > 1 {
		cs.LastTerminationState = runtimeState(attempts[1], w.k.runtimeName())
	}
	if cur.State == runtimeapi.ContainerState_CONTAINER_EXITED && waiting {
		// Waiting to restart: the finished attempt becomes lastState.
		cs.LastTerminationState = cs.State
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: wait.reason, Message: wait.message}}
	}
	running := cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	started := running && (c.StartupProbe == nil || w.probeState[probeKey{cur.Id, startup}])
	cs.Started = &started
	cs.Ready = started && (c.ReadinessProbe == nil || w.probeState[probeKey{cur.Id, readiness}])
	return cs
}

func runtimeState(s *runtimeapi.ContainerStatus, runtime string) corev1.ContainerState {
	switch s.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: nanoTime(s.StartedAt)}}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		reason := s.Reason
		if reason == "" {
			reason = "Error"
			if s.ExitCode == 0 {
				reason = "Completed"
			}
		}
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: s.ExitCode, Reason: reason, Message: s.Message,
			StartedAt: nanoTime(s.StartedAt), FinishedAt: nanoTime(s.FinishedAt), ContainerID: runtime + "://" + s.Id}}
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	}
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerStatusUnknown"}}
}

func nanoTime(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns).Truncate(time.Second))
}

// podPhase follows upstream's rules for restartPolicy and container outcomes.
func podPhase(p *corev1.Pod, st *corev1.PodStatus, initDone, initFailed bool) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	if !initDone {
		return corev1.PodPending
	}
	var running, waiting, succeeded, failed int
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		case cs.LastTerminationState.Terminated != nil:
			// Waiting to restart after a run.
			if cs.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case p.Spec.RestartPolicy == corev1.RestartPolicyAlways || p.Spec.RestartPolicy == "":
		return corev1.PodRunning
	case p.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && failed > 0:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	}
	return corev1.PodSucceeded
}

func cond(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
}

// mergeConditions keeps conditions others own (PodScheduled, DisruptionTarget...)
// and transition times of ours whose status did not change.
func mergeConditions(prev []corev1.PodCondition, ours ...corev1.PodCondition) []corev1.PodCondition {
	now := metav1.Now()
	owned := map[corev1.PodConditionType]bool{}
	for _, c := range ours {
		owned[c.Type] = true
	}
	var out []corev1.PodCondition
	for _, c := range prev {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	for _, c := range ours {
		c.LastTransitionTime = now
		for _, p := range prev {
			if p.Type == c.Type && p.Status == c.Status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	return out
}

func notReady(list []corev1.ContainerStatus) []string {
	var out []string
	for _, cs := range list {
		if !cs.Ready {
			out = append(out, cs.Name)
		}
	}
	return out
}

func notDone(list []corev1.ContainerStatus) []string {
	var out []string
	for _, cs := range list {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			out = append(out, cs.Name)
		}
	}
	return out
}

func (w *worker) failedStatus(obs *observed, reason, msg string) *corev1.PodStatus {
	st := w.buildStatus(obs)
	st.Phase, st.Reason, st.Message = corev1.PodFailed, reason, msg
	// A failed pod is never ready, even if obs still showed a running container.
	for i := range st.ContainerStatuses {
		st.ContainerStatuses[i].Ready = false
	}
	for i := range st.Conditions {
		if c := &st.Conditions[i]; (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status == corev1.ConditionTrue {
			c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionFalse, "PodFailed", "", metav1.Now()
		}
	}
	return st
}

// writeStatus sends the status through pods/status when it differs from what the
// API holds (ignoring condition timestamps' churn).
func (w *worker) writeStatus(ctx context.Context, st *corev1.PodStatus) {
	if statusEqual(st, &w.pod.Status) || (w.lastStatus != nil && statusEqual(st, w.lastStatus)) {
		return
	}
	pods := w.k.cfg.Client.CoreV1().Pods(w.pod.Namespace)
	pod := w.pod.DeepCopy()
	for attempt := 0; attempt < 3; attempt++ {
		pod.Status = *st
		updated, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if err == nil {
			w.lastStatus = st
			w.pod = updated
			return
		}
		if !apierrors.IsConflict(err) {
			if !apierrors.IsNotFound(err) && ctx.Err() == nil {
				klog.FromContext(ctx).Error(err, "updating pod status")
			}
			return
		}
		fresh, err := pods.Get(ctx, w.pod.Name, metav1.GetOptions{})
		if err != nil || fresh.UID != w.pod.UID {
			return
		}
		pod = fresh
		st.Conditions = mergeConditions(fresh.Status.Conditions, ownedConditions(st.Conditions)...)
	}
}

func ownedConditions(list []corev1.PodCondition) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range list {
		switch c.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady:
			out = append(out, c)
		}
	}
	return out
}

func statusEqual(a, b *corev1.PodStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}
