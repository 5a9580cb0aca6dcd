package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// ServiceAccount gives a new pod the namespace's "default" service account when it
// names none (upstream's ServiceAccount plugin; token volumes are not mounted here).
type ServiceAccount struct{}

func (ServiceAccount) Name() string { return "ServiceAccount" }

func (ServiceAccount) Admit(_ context.Context, a *Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || !isPodCreate(a) {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	return nil
}
