package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

// apps/v1.
func init() {
	register(kind[*appsv1.Deployment]{
		group: "apps", resource: "deployments",
		defaults: defaults.Deployment,
		spec:     func(d *appsv1.Deployment) any { return d.Spec },
		status:   &status[*appsv1.Deployment]{set: func(dst, src *appsv1.Deployment) { dst.Status = src.Status }},
		scale: &scale[*appsv1.Deployment]{
			get: func(d *appsv1.Deployment) (int32, int32, string) {
				return deref(d.Spec.Replicas), d.Status.Replicas, selectorString(d.Spec.Selector)
			},
			set: func(d *appsv1.Deployment, n int32) { d.Spec.Replicas = &n },
		},
	})
	register(kind[*appsv1.ReplicaSet]{
		group: "apps", resource: "replicasets",
		defaults: defaults.ReplicaSet,
		spec:     func(rs *appsv1.ReplicaSet) any { return rs.Spec },
		status:   &status[*appsv1.ReplicaSet]{set: func(dst, src *appsv1.ReplicaSet) { dst.Status = src.Status }},
		scale: &scale[*appsv1.ReplicaSet]{
			get: func(rs *appsv1.ReplicaSet) (int32, int32, string) {
				return deref(rs.Spec.Replicas), rs.Status.Replicas, selectorString(rs.Spec.Selector)
			},
			set: func(rs *appsv1.ReplicaSet, n int32) { rs.Spec.Replicas = &n },
		},
		fields: func(rs *appsv1.ReplicaSet) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(rs.Status.Replicas))}
		},
	})
	register(kind[*appsv1.DaemonSet]{
		group: "apps", resource: "daemonsets",
		defaults: defaults.DaemonSet,
		spec:     func(ds *appsv1.DaemonSet) any { return ds.Spec },
		status:   &status[*appsv1.DaemonSet]{set: func(dst, src *appsv1.DaemonSet) { dst.Status = src.Status }},
	})
	register(kind[*appsv1.StatefulSet]{
		group: "apps", resource: "statefulsets",
		defaults: defaults.StatefulSet,
		spec:     func(ss *appsv1.StatefulSet) any { return ss.Spec },
		status:   &status[*appsv1.StatefulSet]{set: func(dst, src *appsv1.StatefulSet) { dst.Status = src.Status }},
		scale: &scale[*appsv1.StatefulSet]{
			get: func(ss *appsv1.StatefulSet) (int32, int32, string) {
				return deref(ss.Spec.Replicas), ss.Status.Replicas, selectorString(ss.Spec.Selector)
			},
			set: func(ss *appsv1.StatefulSet, n int32) { ss.Spec.Replicas = &n },
		},
	})
	register(kind[*appsv1.ControllerRevision]{group: "apps", resource: "controllerrevisions",
		defaults: func(*appsv1.ControllerRevision) {}})
}

// selectorString renders a label selector the way /scale reports it ("" when invalid).
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}
