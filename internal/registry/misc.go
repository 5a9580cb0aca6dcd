package registry

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

// The small API groups: coordination, discovery, events, rbac, scheduling, policy.
func init() {
	register(kind[*coordinationv1.Lease]{group: "coordination.k8s.io", resource: "leases",
		defaults: func(*coordinationv1.Lease) {}, spec: func(l *coordinationv1.Lease) any { return l.Spec }})
	register(kind[*discoveryv1.EndpointSlice]{group: "discovery.k8s.io", resource: "endpointslices",
		defaults: defaults.EndpointSlice})
	register(kind[*eventsv1.Event]{group: "events.k8s.io", resource: "events",
		fields: func(e *eventsv1.Event) fields.Set {
			return fields.Set{
				"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace, "regarding.name": e.Regarding.Name,
				"regarding.uid": string(e.Regarding.UID), "reason": e.Reason, "reportingController": e.ReportingController, "type": e.Type,
			}
		}})
	// RBAC objects take defaults.Default: their defaulter is not exported on its own.
	register(kind[*rbacv1.Role]{group: "rbac.authorization.k8s.io", resource: "roles"})
	register(kind[*rbacv1.RoleBinding]{group: "rbac.authorization.k8s.io", resource: "rolebindings"})
	register(kind[*rbacv1.ClusterRole]{group: "rbac.authorization.k8s.io", resource: "clusterroles"})
	register(kind[*rbacv1.ClusterRoleBinding]{group: "rbac.authorization.k8s.io", resource: "clusterrolebindings"})
	register(kind[*schedulingv1.PriorityClass]{group: "scheduling.k8s.io", resource: "priorityclasses",
		defaults: func(pc *schedulingv1.PriorityClass) {
			if pc.PreemptionPolicy == nil {
				p := corev1.PreemptLowerPriority
				pc.PreemptionPolicy = &p
			}
		}})
	register(kind[*policyv1.PodDisruptionBudget]{
		group: "policy", resource: "poddisruptionbudgets",
		defaults: func(*policyv1.PodDisruptionBudget) {},
		spec:     func(p *policyv1.PodDisruptionBudget) any { return p.Spec },
		status:   &status[*policyv1.PodDisruptionBudget]{set: func(dst, src *policyv1.PodDisruptionBudget) { dst.Status = src.Status }},
	})
}
