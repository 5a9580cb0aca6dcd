package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

func init() {
	register(kind[*corev1.Pod]{
		group: "", resource: "pods",
		defaults: defaults.Pod,
		spec:     func(p *corev1.Pod) any { return p.Spec },
		// A new pod is Pending with its QoS class; the kubelet reports the rest.
		prepareCreate: func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(p)}
		},
		status:      &status[*corev1.Pod]{set: func(dst, src *corev1.Pod) { dst.Status = src.Status }},
		fields:      podFields,
		gracePeriod: podGracePeriod,
	})
}

// podFields are the pod field labels of the Kubernetes field-selectors page.
func podFields(p *corev1.Pod) fields.Set {
	return fields.Set{
		"spec.nodeName": p.Spec.NodeName, "spec.restartPolicy": string(p.Spec.RestartPolicy),
		"spec.schedulerName": p.Spec.SchedulerName, "spec.serviceAccountName": p.Spec.ServiceAccountName,
		"spec.hostNetwork": strconv.FormatBool(p.Spec.HostNetwork), "status.phase": string(p.Status.Phase),
		"status.podIP": p.Status.PodIP, "status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

// podGracePeriod: only pods on a node that are still running get one; the kubelet
// ends it with its own delete (gracePeriodSeconds=0).
func podGracePeriod(pod *corev1.Pod, opts *metav1.DeleteOptions) int64 {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		if *opts.GracePeriodSeconds < 0 {
			return 1
		}
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// qosClass computes the pod's QoS class the way Kubernetes documents it.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed, any := true, false
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, rn := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[rn]
			lim, hasLim := c.Resources.Limits[rn]
			if hasReq && !req.IsZero() {
				any = true
				requests[rn] = req
			}
			if hasLim && !lim.IsZero() {
				any = true
				limits[rn] = lim
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
