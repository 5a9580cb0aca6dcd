package statefulset

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// podName is the stable name of the pod at ordinal.
func podName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

// claimName is the stable PVC name for a volumeClaimTemplate at ordinal.
func claimName(set *appsv1.StatefulSet, claim string, ordinal int) string {
	return claim + "-" + podName(set, ordinal)
}

// newPod builds the pod at ordinal from template, labelled with revision.
func newPod(set *appsv1.StatefulSet, tmpl *corev1.PodTemplateSpec, ordinal int, revision string) *corev1.Pod {
	t := tmpl.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(set, ordinal),
			Namespace:       set.Namespace,
			Labels:          map[string]string{},
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.NewControllerRef(set, controllerKind.GroupVersion().String(), controllerKind.Kind)},
		},
		Spec: t.Spec,
	}
	for k, v := range t.Labels {
		pod.Labels[k] = v
	}
	pod.Labels[history.HashLabel] = revision
	setIdentity(set, pod, ordinal)
	addClaimVolumes(set, pod, ordinal)
	return pod
}

// setIdentity stamps the labels and DNS identity derived from the ordinal.
func setIdentity(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) {
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
}

// identityMatches reports whether pod still carries its stable identity.
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) bool {
	return pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ordinal) &&
		pod.Spec.Hostname == pod.Name && pod.Spec.Subdomain == set.Spec.ServiceName
}

// addClaimVolumes mounts each volumeClaimTemplate's per-ordinal claim,
// replacing a same-named volume from the template as upstream does.
func addClaimVolumes(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) {
	for _, claim := range set.Spec.VolumeClaimTemplates {
		vol := corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, claim.Name, ordinal)}}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == claim.Name {
				pod.Spec.Volumes[i] = vol
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
}

// newClaims returns the PVCs pod at ordinal needs.
func newClaims(set *appsv1.StatefulSet, ordinal int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for _, t := range set.Spec.VolumeClaimTemplates {
		pvc := t.DeepCopy()
		pvc.Name = claimName(set, t.Name, ordinal)
		pvc.Namespace = set.Namespace
		pvc.ResourceVersion = ""
		pvc.UID = ""
		if pvc.Labels == nil {
			pvc.Labels = map[string]string{}
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				pvc.Labels[k] = v
			}
		}
		out = append(out, pvc)
	}
	return out
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// isHealthy is the gate OrderedReady waits on: Running, Ready, and (with
// minReadySeconds) available, and not being deleted.
func isHealthy(p *corev1.Pod, minReady int32, now time.Time) bool {
	return p != nil && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning &&
		ctrlutil.IsPodAvailable(p, minReady, now)
}

func isRunningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && ctrlutil.IsPodReady(p)
}
