package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// kindUpdate holds the per-kind immutability rules; obj and old have the same type.
func kindUpdate(obj, old runtime.Object) field.ErrorList {
	sel := field.NewPath("spec", "selector")
	switch o := obj.(type) {
	case *certificatesv1.CertificateSigningRequest:
		return csrUpdate(o, old.(*certificatesv1.CertificateSigningRequest))
	case *corev1.Pod:
		return podUpdate(o, old.(*corev1.Pod))
	case *corev1.Service:
		return serviceUpdate(o, old.(*corev1.Service))
	case *corev1.Node:
		return nodeUpdate(o, old.(*corev1.Node))
	case *corev1.ConfigMap:
		return configMapUpdate(o, old.(*corev1.ConfigMap))
	case *corev1.Secret:
		return secretUpdate(o, old.(*corev1.Secret))
	case *appsv1.Deployment:
		return immutable(o.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, sel)
	case *appsv1.ReplicaSet:
		return immutable(o.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, sel)
	case *appsv1.DaemonSet:
		return immutable(o.Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector, sel)
	case *appsv1.StatefulSet:
		return statefulSetUpdate(o, old.(*appsv1.StatefulSet))
	case *appsv1.ControllerRevision:
		if !apiequality.Semantic.DeepEqual(o.Data, old.(*appsv1.ControllerRevision).Data) {
			return field.ErrorList{field.Invalid(field.NewPath("data"), "<omitted>", fieldImmutableErrorMsg)}
		}
	case *batchv1.Job:
		return jobUpdate(o, old.(*batchv1.Job))
	case *discoveryv1.EndpointSlice:
		return immutable(o.AddressType, old.(*discoveryv1.EndpointSlice).AddressType, field.NewPath("addressType"))
	case *schedulingv1.PriorityClass:
		oldPC := old.(*schedulingv1.PriorityClass)
		errs := immutable(o.Value, oldPC.Value, field.NewPath("value"))
		return append(errs, immutable(o.PreemptionPolicy, oldPC.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	case *rbacv1.RoleBinding:
		return roleRefUpdate(o.RoleRef, old.(*rbacv1.RoleBinding).RoleRef)
	case *rbacv1.ClusterRoleBinding:
		return roleRefUpdate(o.RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)
	}
	return nil
}
