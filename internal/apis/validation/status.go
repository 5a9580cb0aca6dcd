package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// statusUpdate holds the per-kind status checks; obj and old have the same type.
func statusUpdate(obj, old runtime.Object) field.ErrorList {
	sp := field.NewPath("status")
	switch o := obj.(type) {
	case *certificatesv1.CertificateSigningRequest:
		return csrStatusUpdate(o, old.(*certificatesv1.CertificateSigningRequest))
	case *corev1.Pod:
		return podStatusUpdate(o, old.(*corev1.Pod))
	case *corev1.Namespace:
		return optionalEnum(o.Status.Phase, []corev1.NamespacePhase{corev1.NamespaceActive, corev1.NamespaceTerminating}, sp.Child("phase"))
	case *corev1.Node:
		errs := resourceListNonNegative(o.Status.Capacity, sp.Child("capacity"))
		errs = append(errs, resourceListNonNegative(o.Status.Allocatable, sp.Child("allocatable"))...)
		for i, c := range o.Status.Conditions {
			if c.Type == "" {
				errs = append(errs, field.Required(sp.Child("conditions").Index(i).Child("type"), ""))
			}
		}
		return errs
	case *corev1.Service:
		var errs field.ErrorList
		for i, ing := range o.Status.LoadBalancer.Ingress {
			ip := sp.Child("loadBalancer", "ingress").Index(i)
			if ing.IP != "" {
				errs = append(errs, validation.IsValidIP(ip.Child("ip"), ing.IP)...)
			}
			if ing.Hostname != "" {
				errs = append(errs, dns1123Subdomain(ing.Hostname, ip.Child("hostname"))...)
			}
		}
		return append(errs, metav1validation.ValidateConditions(o.Status.Conditions, sp.Child("conditions"))...)
	case *corev1.ResourceQuota:
		errs := resourceListNonNegative(o.Status.Hard, sp.Child("hard"))
		return append(errs, resourceListNonNegative(o.Status.Used, sp.Child("used"))...)
	case *corev1.ReplicationController:
		s := o.Status
		return replicaCounters(sp, s.Replicas, map[string]int32{"readyReplicas": s.ReadyReplicas,
			"availableReplicas": s.AvailableReplicas, "fullyLabeledReplicas": s.FullyLabeledReplicas})
	case *appsv1.ReplicaSet:
		s := o.Status
		return replicaCounters(sp, s.Replicas, map[string]int32{"readyReplicas": s.ReadyReplicas,
			"availableReplicas": s.AvailableReplicas, "fullyLabeledReplicas": s.FullyLabeledReplicas})
	case *appsv1.Deployment:
		s := o.Status
		errs := replicaCounters(sp, s.Replicas, map[string]int32{"readyReplicas": s.ReadyReplicas,
			"availableReplicas": s.AvailableReplicas, "updatedReplicas": s.UpdatedReplicas})
		return append(errs, nonNegative(int64(s.UnavailableReplicas), sp.Child("unavailableReplicas"))...)
	case *appsv1.StatefulSet:
		s := o.Status
		return replicaCounters(sp, s.Replicas, map[string]int32{"readyReplicas": s.ReadyReplicas,
			"availableReplicas": s.AvailableReplicas, "currentReplicas": s.CurrentReplicas, "updatedReplicas": s.UpdatedReplicas})
	case *appsv1.DaemonSet:
		s := o.Status
		var errs field.ErrorList
		for name, v := range map[string]int32{"currentNumberScheduled": s.CurrentNumberScheduled, "numberMisscheduled": s.NumberMisscheduled,
			"desiredNumberScheduled": s.DesiredNumberScheduled, "numberReady": s.NumberReady, "updatedNumberScheduled": s.UpdatedNumberScheduled,
			"numberAvailable": s.NumberAvailable, "numberUnavailable": s.NumberUnavailable} {
			errs = append(errs, nonNegative(int64(v), sp.Child(name))...)
		}
		return errs
	case *batchv1.Job:
		s := o.Status
		var errs field.ErrorList
		for name, v := range map[string]int32{"active": s.Active, "succeeded": s.Succeeded, "failed": s.Failed} {
			errs = append(errs, nonNegative(int64(v), sp.Child(name))...)
		}
		errs = append(errs, nonNegativePtr(s.Ready, sp.Child("ready"))...)
		errs = append(errs, nonNegativePtr(s.Terminating, sp.Child("terminating"))...)
		for i, c := range s.Conditions {
			if c.Type == "" {
				errs = append(errs, field.Required(sp.Child("conditions").Index(i).Child("type"), ""))
			}
		}
		return errs
	case *policyv1.PodDisruptionBudget:
		s := o.Status
		var errs field.ErrorList
		for name, v := range map[string]int32{"disruptionsAllowed": s.DisruptionsAllowed, "currentHealthy": s.CurrentHealthy,
			"desiredHealthy": s.DesiredHealthy, "expectedPods": s.ExpectedPods} {
			errs = append(errs, nonNegative(int64(v), sp.Child(name))...)
		}
		return append(errs, metav1validation.ValidateConditions(s.Conditions, sp.Child("conditions"))...)
	}
	return nil
}
