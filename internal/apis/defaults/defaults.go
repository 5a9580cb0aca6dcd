// Package defaults fills in the fields the API server sets when a client leaves them
// empty, the way Kubernetes' per-group defaulters (and a few admission plugins whose
// effect clients rely on) do. Every function only fills unset fields, so running
// Default twice is harmless and explicit client values always win.
package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Default applies server-side defaults to obj in place. Kinds without defaults
// (and kinds Skiff does not know) are left untouched.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		Pod(o)
	case *corev1.PodTemplate:
		PodTemplateSpec(&o.Template)
	case *corev1.Service:
		Service(o)
	case *corev1.ReplicationController:
		ReplicationController(o)
	case *corev1.Namespace:
		Namespace(o)
	case *corev1.Node:
		Node(o)
	case *corev1.Secret:
		Secret(o)
	case *corev1.ConfigMap:
		// Upstream materialises an empty data map so clients can always index it.
		if o.Data == nil {
			o.Data = map[string]string{}
		}
	case *corev1.Endpoints:
		Endpoints(o)
	case *corev1.LimitRange:
		LimitRange(o)
	case *corev1.PersistentVolumeClaim:
		PersistentVolumeClaim(o)
	case *appsv1.Deployment:
		Deployment(o)
	case *appsv1.ReplicaSet:
		ReplicaSet(o)
	case *appsv1.StatefulSet:
		StatefulSet(o)
	case *appsv1.DaemonSet:
		DaemonSet(o)
	case *batchv1.Job:
		Job(o)
	case *batchv1.CronJob:
		CronJob(o)
	case *discoveryv1.EndpointSlice:
		EndpointSlice(o)
	case *schedulingv1.PriorityClass:
		if o.PreemptionPolicy == nil {
			p := corev1.PreemptLowerPriority
			o.PreemptionPolicy = &p
		}
	case *rbacv1.ClusterRole, *rbacv1.Role, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
		rbac(o)
	case *policyv1.PodDisruptionBudget, *coordinationv1.Lease, *corev1.ServiceAccount, *corev1.ResourceQuota:
		// Nothing to default: upstream leaves these as submitted.
	}
}

// Secret defaults the type to Opaque and folds the write-only stringData into data
// (stringData wins on conflicts), as the API server does when converting a write.
func Secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

func ptrTo[T any](v T) *T { return &v }
