package apiserver

import (
	"context"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// serveToken issues a bound service account token (serviceaccounts/<sa>/token, as
// `kubectl create token` asks for). Nothing is stored.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if s.cfg.Tokens == nil {
		writeError(w, notFoundPath())
		return
	}
	obj, err := readObject(w, r, tokenRequestGVK)
	if err != nil {
		writeError(w, err)
		return
	}
	tr := obj.(*authenticationv1.TokenRequest)
	sa, err := s.store(ri).Get(r.Context(), s.key(ri, ri.name), "")
	if err != nil {
		writeError(w, err)
		return
	}
	ttl := time.Hour
	if tr.Spec.ExpirationSeconds != nil {
		if *tr.Spec.ExpirationSeconds < 600 {
			writeError(w, apierrors.NewInvalid(tokenRequestGVK.GroupKind(), ri.name, field.ErrorList{field.Invalid(
				field.NewPath("spec", "expirationSeconds"), *tr.Spec.ExpirationSeconds, "may not specify a duration less than 10 minutes")}))
			return
		}
		ttl = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	acct := sa.(*corev1.ServiceAccount)
	token, exp, err := s.cfg.Tokens.Issue(acct.Namespace, acct.Name, string(acct.UID), tr.Spec.Audiences, ttl)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	secs := int64(ttl / time.Second)
	tr.Spec.ExpirationSeconds = &secs
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	tr.Name, tr.Namespace, tr.CreationTimestamp = acct.Name, acct.Namespace, metav1.Now()
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(tr, tokenRequestGVK))
}

// ServiceAccountUID looks up a live service account for token authentication.
func (s *Server) ServiceAccountUID(namespace, name string) (string, bool) {
	ri := requestInfo{namespace: namespace, res: catalogServiceAccounts()}
	obj, err := s.getCached(context.Background(), ri.res.GroupResource(), s.key(ri, name))
	if err != nil {
		return "", false
	}
	return string(obj.(*corev1.ServiceAccount).UID), true
}
