package apiserver

import (
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/auth"
)

// serveReview answers the review resources that are computed, never stored:
// SelfSubjectReview (`kubectl auth whoami`) and the self access reviews
// (`kubectl auth can-i`). Authorization is not enforced yet, so every
// authenticated user may do everything.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, err := decodeBody(w, r, ri.res.GVK(), data)
	if err != nil {
		writeError(w, err)
		return
	}
	user, _ := auth.UserFrom(r.Context())
	if user == nil {
		user = &auth.User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}
	}
	var out runtime.Object
	switch o := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = authenticationv1.UserInfo{Username: user.Name, UID: user.UID, Groups: user.Groups, Extra: extraOf(user)}
		out = o
	case *authorizationv1.SelfSubjectAccessReview:
		o.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "authorization is not enforced"}
		out = o
	case *authorizationv1.SelfSubjectRulesReview:
		o.Status = authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{{
			Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}}
		out = o
	}
	m := mustMeta(out)
	m.CreationTimestamp = metav1.Now()
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(out, ri.res.GVK()))
}

func extraOf(u *auth.User) map[string]authenticationv1.ExtraValue {
	if len(u.Extra) == 0 {
		return nil
	}
	out := map[string]authenticationv1.ExtraValue{}
	for k, v := range u.Extra {
		out[k] = v
	}
	return out
}
