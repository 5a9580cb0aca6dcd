package validation

import (
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := objectMeta(&pod.ObjectMeta, true, nameIsDNSSubdomain)
	specPath := field.NewPath("spec")
	errs = append(errs, podSpec(&pod.Spec, specPath)...)
	// Only Pods (not templates) reject padded images: the kubelet would pull by the
	// literal string.
	for _, cs := range []struct {
		list []corev1.Container
		name string
	}{{pod.Spec.InitContainers, "initContainers"}, {pod.Spec.Containers, "containers"}} {
		for i, c := range cs.list {
			if strings.TrimSpace(c.Image) != c.Image {
				errs = append(errs, field.Invalid(specPath.Child(cs.name).Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	return errs
}

// podTemplateSpec validates a workload's pod template (labels are reported at
// template.labels, as upstream does).
func podTemplateSpec(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, p.Child("labels"))...)
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	errs = append(errs, podSpec(&t.Spec, p.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(p.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

func validateBinding(b *corev1.Binding) field.ErrorList {
	errs := objectMeta(&b.ObjectMeta, true, nameIsDNSSubdomain)
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// The fields a pod update may touch, quoted in the Forbidden message.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// podUpdate enforces that a running pod's spec is immutable apart from a few
// fields the kubelet can apply in place.
func podUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	if e, stop := containerUpdates(pod.Spec.Containers, old.Spec.Containers, specPath.Child("containers")); stop {
		return append(errs, e...)
	} else {
		errs = append(errs, e...)
	}
	if e, stop := containerUpdates(pod.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers")); stop {
		return append(errs, e...)
	} else {
		errs = append(errs, e...)
	}
	// activeDeadlineSeconds may be set, or lowered, never raised or removed.
	adsPath := specPath.Child("activeDeadlineSeconds")
	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil {
		if *ads < 0 || *ads > math.MaxInt32 {
			return append(errs, field.Invalid(adsPath, *ads, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < *ads {
			return append(errs, field.Invalid(adsPath, *ads, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(adsPath, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, onlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, onlyDeletedSchedulingGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)
	if apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return errs
	}
	// Copy the updatable fields from the old spec; any remaining difference is forbidden.
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	// Binding an unscheduled pod through an update is tolerated; moving a bound one is not.
	if old.Spec.NodeName == "" {
		munged.NodeName = ""
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		msg := fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), diff.Diff(old.Spec, *munged))
		errs = append(errs, field.Forbidden(specPath, msg))
	}
	return errs
}

// containerUpdates: containers cannot be added or removed; stop is true in that
// case because the per-index comparison below would be meaningless.
func containerUpdates(cs, old []corev1.Container, p *field.Path) (field.ErrorList, bool) {
	if len(cs) != len(old) {
		return field.ErrorList{field.Forbidden(p, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range cs {
		if c.Image == "" {
			errs = append(errs, field.Required(p.Index(i).Child("image"), ""))
		}
	}
	return errs, false
}

func onlyAddedTolerations(ts, old []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range ts {
			// tolerationSeconds of an existing toleration may change.
			o.TolerationSeconds = t.TolerationSeconds
			if apiequality.Semantic.DeepEqual(o, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

func onlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	had := map[string]bool{}
	for _, g := range old {
		had[g.Name] = true
	}
	for i, g := range gates {
		if !had[g.Name] {
			errs = append(errs, field.Forbidden(p.Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

var podPhases = []corev1.PodPhase{corev1.PodFailed, corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodUnknown}

// podStatusUpdate checks a pod status write: the node binding cannot move through
// /status, a terminal phase is final, and IPs/conditions must be well formed.
func podStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("status")
	if pod.Spec.NodeName != old.Spec.NodeName {
		errs = append(errs, field.Forbidden(sp.Child("nodeName"), "may not be changed directly"))
	}
	if pod.Status.Phase != "" {
		errs = append(errs, enum(pod.Status.Phase, podPhases, sp.Child("phase"))...)
	}
	if terminal(old.Status.Phase) && pod.Status.Phase != old.Status.Phase {
		errs = append(errs, field.Forbidden(sp.Child("phase"),
			fmt.Sprintf("cannot transition from terminal phase %q to %q", old.Status.Phase, pod.Status.Phase)))
	}
	if n := pod.Status.NominatedNodeName; n != "" && n != old.Status.NominatedNodeName {
		errs = append(errs, invalidEach(sp.Child("nominatedNodeName"), n, nameIsDNSSubdomain(n, false))...)
	}
	errs = append(errs, podConditions(pod.Status.Conditions, sp.Child("conditions"))...)
	for i, ip := range pod.Status.PodIPs {
		errs = append(errs, validation.IsValidIP(sp.Child("podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIP != pod.Status.PodIPs[0].IP {
		errs = append(errs, field.Invalid(sp.Child("podIP"), pod.Status.PodIP, "must match the first entry of status.podIPs"))
	}
	for i, ip := range pod.Status.HostIPs {
		errs = append(errs, validation.IsValidIP(sp.Child("hostIPs").Index(i).Child("ip"), ip.IP)...)
	}
	return errs
}

func terminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

var conditionStatuses = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}

// podConditions: built-in condition types are trusted, custom ones must be
// qualified names; types are unique.
func podConditions(cs []corev1.PodCondition, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.PodConditionType]bool{}
	for i, c := range cs {
		ip := p.Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(ip.Child("type"), ""))
		} else {
			errs = append(errs, qualifiedName(string(c.Type), ip.Child("type"))...)
		}
		if seen[c.Type] {
			errs = append(errs, field.Duplicate(ip.Child("type"), c.Type))
		}
		seen[c.Type] = true
		errs = append(errs, optionalEnum(c.Status, conditionStatuses, ip.Child("status"))...)
	}
	return errs
}
