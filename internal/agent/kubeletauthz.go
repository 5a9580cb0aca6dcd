package agent

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
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

// kubeletTokenAuthenticator checks a bearer token presented to the kubelet API
// with a TokenReview.
func kubeletTokenAuthenticator(client kubernetes.Interface) kserver.TokenFunc {
	return func(ctx context.Context, token string) (*auth.User, bool, error) {
		tr, err := client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			return nil, false, err
		}
		if !tr.Status.Authenticated {
			return nil, false, nil
		}
		u := &auth.User{Name: tr.Status.User.Username, UID: tr.Status.User.UID, Groups: tr.Status.User.Groups}
		return u, true, nil
	}
}
