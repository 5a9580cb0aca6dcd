package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

func init() {
	register(kind[*corev1.Namespace]{
		group: "", resource: "namespaces",
		defaults: defaults.Namespace,
		spec:     func(ns *corev1.Namespace) any { return ns.Spec },
		// A new namespace is Active and carries the "kubernetes" finalizer the
		// namespace controller removes (through /finalize) once it is empty.
		prepareCreate: func(ns *corev1.Namespace) {
			ns.Status.Phase = corev1.NamespaceActive
			if len(ns.Spec.Finalizers) == 0 {
				ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
			}
		},
		status: &status[*corev1.Namespace]{
			set:          func(dst, src *corev1.Namespace) { dst.Status = src.Status },
			keepOnCreate: true,
			// A status write without a phase keeps the stored one.
			prepare: func(ns, old *corev1.Namespace) {
				if ns.Status.Phase == "" {
					ns.Status.Phase = old.Status.Phase
				}
			},
		},
		// The namespace controller empties spec.finalizers through /finalize once the
		// namespace's content is gone.
		finalize:         func(dst, src *corev1.Namespace) { dst.Spec.Finalizers = src.Spec.Finalizers },
		fields:           func(ns *corev1.Namespace) fields.Set { return fields.Set{"status.phase": string(ns.Status.Phase)} },
		prepareForDelete: func(ns *corev1.Namespace) { ns.Status.Phase = corev1.NamespaceTerminating },
		// The object goes only once spec.finalizers is empty too.
		finalizing: func(ns *corev1.Namespace) bool { return len(ns.Spec.Finalizers) > 0 },
	})
}
