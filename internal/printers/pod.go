package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets
// when a node stops reporting; such a pod being deleted shows as "Unknown".
const nodeLostReason = "NodeLost"

func init() {
	register("", "Pod", printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "Ready containers out of all containers in the pod."),
			column("Status", "string", "The aggregate status of the pod and its containers."),
			column("Restarts", "string", "Container restarts in the pod, and how long ago the last one was."),
			ageColumn(),
			wide(column("IP", "string", "The pod's primary IP address.")),
			wide(column("Node", "string", "The node the pod is bound to.")),
			wide(column("Nominated Node", "string", "The node the scheduler nominated through preemption.")),
			wide(column("Readiness Gates", "string", "Readiness gates that are true out of all declared.")),
		},
		row: rowOf(podRow),
	})
}

var (
	podSucceededConditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
		Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	podFailedConditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
		Reason: string(corev1.PodFailed), Message: "The pod failed."}}
)

func podRow(pod *corev1.Pod, now time.Time) metav1.TableRow {
	var row metav1.TableRow
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		row.Conditions = podSucceededConditions
	case corev1.PodFailed:
		row.Conditions = podFailedConditions
	}
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, age(s.lastRestart, now))
	}
	row.Cells = []any{
		pod.Name, fmt.Sprintf("%d/%d", s.ready, s.total), s.reason, restarts, age(pod.CreationTimestamp, now),
		orNone(podIP(pod)), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates(pod),
	}
	return row
}

// podSummary is what `kubectl get pods` says about a pod's containers.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

// summarizePod follows upstream's printPod: start from the phase (or the pod's
// reason), let the first unfinished init container speak while initializing,
// otherwise let the app containers' states speak (the first container wins),
// and finally account for deletion.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}
	// Sidecars (restartable init containers) run alongside the app, so they count as containers.
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}
	initializing, sidecarRestarts, sidecarLast := s.scanInitContainers(pod, sidecars)
	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		// Once past init, only sidecar restarts still matter among init containers.
		s.restarts, s.lastRestart = sidecarRestarts, sidecarLast
		s.scanContainers(pod)
	}
	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.reason = "Terminating"
		}
	}
	return s
}

// scanInitContainers walks init containers in order up to the first one that
// has not finished, which decides the "Init:..." status.
func (s *podSummary) scanInitContainers(pod *corev1.Pod, sidecars map[string]bool) (initializing bool, sidecarRestarts int, sidecarLast metav1.Time) {
	for i, c := range pod.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		s.lastRestart = later(s.lastRestart, c.LastTerminationState)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
			sidecarLast = later(sidecarLast, c.LastTerminationState)
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case sidecars[c.Name] && c.Started != nil && *c.Started:
			if c.Ready {
				s.ready++
			}
			continue
		case c.State.Terminated != nil:
			s.reason = "Init:" + terminatedReason(c.State.Terminated)
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			s.reason = "Init:" + c.State.Waiting.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		return true, sidecarRestarts, sidecarLast
	}
	return false, sidecarRestarts, sidecarLast
}

// scanContainers walks app containers last to first, so the first
// container's waiting or terminated reason is the one shown.
func (s *podSummary) scanContainers(pod *corev1.Pod) {
	hasRunning := false
	statuses := pod.Status.ContainerStatuses
	for i := len(statuses) - 1; i >= 0; i-- {
		c := statuses[i]
		s.restarts += int(c.RestartCount)
		s.lastRestart = later(s.lastRestart, c.LastTerminationState)
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			s.reason = c.State.Waiting.Reason
		case c.State.Terminated != nil:
			s.reason = terminatedReason(c.State.Terminated)
		case c.Ready && c.State.Running != nil:
			hasRunning = true
			s.ready++
		}
	}
	// Some containers completed while others still run: the pod is still running.
	if s.reason == "Completed" && hasRunning {
		if podConditionTrue(pod, corev1.PodReady) {
			s.reason = "Running"
		} else {
			s.reason = "NotReady"
		}
	}
}

// terminatedReason is the container's reason, else its signal, else its exit code.
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// later returns the later of last and the time a previous run finished.
func later(last metav1.Time, prev corev1.ContainerState) metav1.Time {
	if prev.Terminated != nil && last.Before(&prev.Terminated.FinishedAt) {
		return prev.Terminated.FinishedAt
	}
	return last
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIP prefers status.podIPs (dual-stack) and falls back to the legacy field.
func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// readinessGates is "true/declared", counting gates whose condition is True.
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return none
	}
	trueGates := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod, g.ConditionType) {
			trueGates++
		}
	}
	return fmt.Sprintf("%d/%d", trueGates, len(pod.Spec.ReadinessGates))
}
