package agent

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/auth"
	kserver "github.com/skiff-sh/skiff/internal/kubelet/server"
)

// kubeletAuthorizer asks the API server, with a SubjectAccessReview, whether a
// kubelet API caller may verb nodes/<subresource> of this node.
func kubeletAuthorizer(client kubernetes.Interface, nodeName string) kserver.AuthorizeFunc {
	return func(ctx context.Context, u *auth.User, verb, sub string) (bool, error) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.Name, UID: u.UID, Groups: u.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "nodes", Subresource: sub, Name: nodeName},
		}}
		out, err := client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) {
			// A server that serves no SubjectAccessReview authorizes nothing
			// either: every cluster-CA certificate holder may call, as before.
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return out.Status.Allowed, nil
	}
}
