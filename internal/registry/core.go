package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

// The core/v1 kinds without a file of their own.
func init() {
	register(kind[*corev1.Node]{
		group: "", resource: "nodes",
		defaults: defaults.Node,
		spec:     func(n *corev1.Node) any { return n.Spec },
		status:   &status[*corev1.Node]{set: func(dst, src *corev1.Node) { dst.Status = src.Status }, keepOnCreate: true},
		fields: func(n *corev1.Node) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)}
		},
	})
	register(kind[*corev1.Endpoints]{group: "", resource: "endpoints", defaults: defaults.Endpoints})
	register(kind[*corev1.ConfigMap]{group: "", resource: "configmaps",
		// Upstream materialises an empty data map so clients can always index it.
		defaults: func(cm *corev1.ConfigMap) {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
		}})
	register(kind[*corev1.Secret]{group: "", resource: "secrets", defaults: defaults.Secret,
		fields: func(s *corev1.Secret) fields.Set { return fields.Set{"type": string(s.Type)} }})
	register(kind[*corev1.ServiceAccount]{group: "", resource: "serviceaccounts", defaults: func(*corev1.ServiceAccount) {}})
	register(kind[*corev1.Event]{group: "", resource: "events", fields: coreEventFields})
	register(kind[*corev1.ResourceQuota]{
		group: "", resource: "resourcequotas",
		defaults: func(*corev1.ResourceQuota) {},
		spec:     func(q *corev1.ResourceQuota) any { return q.Spec },
		status:   &status[*corev1.ResourceQuota]{set: func(dst, src *corev1.ResourceQuota) { dst.Status = src.Status }},
	})
	register(kind[*corev1.LimitRange]{group: "", resource: "limitranges", defaults: defaults.LimitRange,
		spec: func(l *corev1.LimitRange) any { return l.Spec }})
	register(kind[*corev1.ReplicationController]{
		group: "", resource: "replicationcontrollers",
		defaults: defaults.ReplicationController,
		spec:     func(rc *corev1.ReplicationController) any { return rc.Spec },
		status: &status[*corev1.ReplicationController]{set: func(dst, src *corev1.ReplicationController) {
			dst.Status = src.Status
		}},
		scale: &scale[*corev1.ReplicationController]{
			get: func(rc *corev1.ReplicationController) (int32, int32, string) {
				return deref(rc.Spec.Replicas), rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
			},
			set: func(rc *corev1.ReplicationController, n int32) { rc.Spec.Replicas = &n },
		},
		fields: func(rc *corev1.ReplicationController) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(rc.Status.Replicas))}
		},
	})
}

func coreEventFields(e *corev1.Event) fields.Set {
	return fields.Set{
		"involvedObject.kind": e.InvolvedObject.Kind, "involvedObject.namespace": e.InvolvedObject.Namespace,
		"involvedObject.name": e.InvolvedObject.Name, "involvedObject.uid": string(e.InvolvedObject.UID),
		"involvedObject.apiVersion": e.InvolvedObject.APIVersion, "involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath": e.InvolvedObject.FieldPath, "reason": e.Reason, "reportingComponent": e.ReportingController,
		"source": e.Source.Component, "type": e.Type,
	}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
