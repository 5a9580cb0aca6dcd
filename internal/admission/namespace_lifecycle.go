package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceLifecycle refuses to create objects in a namespace that does not exist
// or is being terminated (upstream's NamespaceLifecycle plugin).
type NamespaceLifecycle struct{ Reader Reader }

func (NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

// Admit runs first in the chain, so a missing namespace is reported before anything
// else about the object.
func (p NamespaceLifecycle) Admit(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Namespace == "" || a.Subresource != "" {
		return nil
	}
	obj, err := p.Reader.Get(ctx, namespacesGR, "", a.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), a.Namespace)
	}
	if err != nil {
		return err
	}
	ns, ok := obj.(*corev1.Namespace)
	if !ok || (ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating) {
		return nil
	}
	forbidden := apierrors.NewForbidden(a.Resource.GroupResource(), a.Name,
		fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	// Controllers recognise this refusal by its cause (and then stop retrying or
	// recording failure events), as with upstream's plugin.
	forbidden.ErrStatus.Details.Causes = append(forbidden.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: corev1.NamespaceTerminatingCause, Field: "metadata.namespace",
		Message: "namespace " + a.Namespace + " is being terminated"})
	return forbidden
}
