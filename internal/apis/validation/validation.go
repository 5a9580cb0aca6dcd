// Package validation checks API objects the way the Kubernetes API server does
// before it persists them. The error lists it returns become the causes of a 422
// Invalid status, so field paths, error types and messages follow upstream's.
//
// Validate runs on create after defaulting; ValidateUpdate on an update of the
// main resource (it includes Validate); ValidateStatusUpdate on /status writes.
package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// nameFunc validates an object name; prefix is true for generateName.
type nameFunc = apimachineryvalidation.ValidateNameFunc

var (
	nameIsDNSSubdomain = apimachineryvalidation.NameIsDNSSubdomain
	nameIsDNSLabel     = apimachineryvalidation.NameIsDNSLabel
	nameIsDNS1035Label = apimachineryvalidation.NameIsDNS1035Label
	// RBAC objects only need to be usable as a URL path segment.
	nameIsPathSegment nameFunc = path.ValidatePathSegmentName
)

// Validate checks a new object. Kinds without specific rules get metadata checks.
func Validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *certificatesv1.CertificateSigningRequest:
		return validateCSR(o)
	case *corev1.Pod:
		return validatePod(o)
	case *corev1.PodTemplate:
		errs := objectMeta(&o.ObjectMeta, true, nameIsDNSSubdomain)
		return append(errs, podTemplateSpec(&o.Template, field.NewPath("template"))...)
	case *corev1.Binding:
		return validateBinding(o)
	case *corev1.Service:
		return validateService(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.ServiceAccount:
		return objectMeta(&o.ObjectMeta, true, apimachineryvalidation.ValidateServiceAccountName)
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.Event:
		return validateEvent(o)
	case *corev1.ResourceQuota:
		return validateResourceQuota(o)
	case *corev1.LimitRange:
		return validateLimitRange(o)
	case *corev1.ReplicationController:
		return validateReplicationController(o)
	case *appsv1.Deployment:
		return validateDeployment(o)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o)
	case *appsv1.StatefulSet:
		return validateStatefulSet(o)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o)
	case *appsv1.ControllerRevision:
		return validateControllerRevision(o)
	case *batchv1.Job:
		return validateJob(o)
	case *batchv1.CronJob:
		return validateCronJob(o)
	case *coordinationv1.Lease:
		return validateLease(o)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)
	case *eventsv1.Event:
		return validateEventsV1(o)
	case *rbacv1.Role:
		return validateRole(&o.ObjectMeta, o.Rules, true)
	case *rbacv1.ClusterRole:
		return validateRole(&o.ObjectMeta, o.Rules, false)
	case *rbacv1.RoleBinding:
		return validateRoleBinding(&o.ObjectMeta, o.RoleRef, o.Subjects, true)
	case *rbacv1.ClusterRoleBinding:
		return validateRoleBinding(&o.ObjectMeta, o.RoleRef, o.Subjects, false)
	case *schedulingv1.PriorityClass:
		return validatePriorityClass(o)
	case *policyv1.PodDisruptionBudget:
		return validatePDB(o)
	}
	return genericMeta(obj)
}

// ValidateUpdate checks an update of the main resource: the new object must be
// valid on its own, metadata must only change where allowed, and each kind's
// immutable fields must keep their values.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	errs, ok := metaUpdate(obj, old)
	if !ok {
		return errs
	}
	errs = append(errs, Validate(obj)...)
	return append(errs, kindUpdate(obj, old)...)
}

// ValidateStatusUpdate checks a write to the /status subresource: metadata may
// only change as on any update, and the status must be well formed.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	errs, ok := metaUpdate(obj, old)
	if !ok {
		return errs
	}
	return append(errs, statusUpdate(obj, old)...)
}

// metaUpdate compares the metadata of the two objects; ok is false when they are
// not comparable at all (different Go types or no metadata).
func metaUpdate(obj, old runtime.Object) (field.ErrorList, bool) {
	if fmt.Sprintf("%T", obj) != fmt.Sprintf("%T", old) {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("cannot update a %T with a %T", old, obj))}, false
	}
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata")), true
}

// objectMeta validates metadata on create with the kind's name rule.
func objectMeta(m interface{ GetName() string }, namespaced bool, fn nameFunc) field.ErrorList {
	acc, err := meta.Accessor(m)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(acc, namespaced, fn, field.NewPath("metadata"))
}

// genericMeta validates the metadata of a kind without specific rules, taking its
// scope from the catalog; kinds the catalog does not serve skip the scope check.
func genericMeta(obj runtime.Object) field.ErrorList {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil // lists, options and other metadata-less types
	}
	namespaced := acc.GetNamespace() != ""
	if kinds, _, err := catalog.Scheme.ObjectKinds(obj); err == nil {
		for _, gvk := range kinds {
			if r := catalog.ForKind(gvk); r != nil {
				namespaced = r.Namespaced
				break
			}
		}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(acc, namespaced, nameIsDNSSubdomain, field.NewPath("metadata"))
}
