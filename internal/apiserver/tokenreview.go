package apiserver

import (
	"net/http"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// serveTokenReview answers authentication.k8s.io/v1 TokenReview: whether a bearer
// token authenticates here, and as whom. Kubelets use it for callers that present a
// token instead of a client certificate. Nothing is stored.
func (s *Server) serveTokenReview(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := readObject(w, r, ri.res.GVK())
	if err != nil {
		writeError(w, err)
		return
	}
	tr := obj.(*authenticationv1.TokenReview)
	tr.Status = authenticationv1.TokenReviewStatus{}
	if s.cfg.TokenAuthenticator != nil && tr.Spec.Token != "" {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tr.Spec.Token)
		u, ok, err := s.cfg.TokenAuthenticator.Authenticate(req)
		switch {
		case ok:
			tr.Status.Authenticated = true
			tr.Status.User = authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups, Extra: extraOf(u)}
			tr.Status.Audiences = tokenAudiences(tr.Spec.Audiences)
		case err != nil:
			tr.Status.Error = err.Error()
		}
	}
	tr.CreationTimestamp = metav1.Now()
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(tr, ri.res.GVK()))
}

// tokenAudiences: the authenticators here accept only tokens for this API server,
// so a review that names audiences is answered for the API server's own.
func tokenAudiences(requested []string) []string {
	if len(requested) == 0 || slices.Contains(requested, auth.DefaultIssuer) {
		return []string{auth.DefaultIssuer}
	}
	return requested
}
