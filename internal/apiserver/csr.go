package apiserver

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/auth"
)

// CertificateSigningRequest rules that are the server's, not the client's (upstream's
// CSR strategy): who asked is recorded from the authenticated user and never taken
// from the body; the approval subresource only decides (Approved/Denied); the status
// subresource only reports (certificate, other conditions).

// setCSRRequester fills spec.username/uid/groups/extra of a new CSR from the
// requester, overwriting whatever the client sent.
func setCSRRequester(ctx context.Context, obj runtime.Object) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	u, ok := auth.UserFrom(ctx)
	if !ok {
		return
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.Name, u.UID, append([]string(nil), u.Groups...)
	if len(u.Extra) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range u.Extra {
			csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
		}
	}
}

// restrictCSRSubresource narrows a status or approval write of a CSR (obj is already
// current with the client's status) to what that subresource may change, and stamps
// condition times.
func restrictCSRSubresource(sub string, obj, current runtime.Object) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	old, ok2 := current.(*certificatesv1.CertificateSigningRequest)
	if !ok || !ok2 || (sub != "status" && sub != "approval") {
		return
	}
	isDecision := func(c certificatesv1.CertificateSigningRequestCondition) bool {
		return c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied
	}
	var conds []certificatesv1.CertificateSigningRequestCondition
	// From the old object: what this subresource may not change.
	for _, c := range old.Status.Conditions {
		if isDecision(c) == (sub == "status") {
			conds = append(conds, c)
		}
	}
	for _, c := range csr.Status.Conditions {
		if isDecision(c) == (sub == "approval") {
			conds = append(conds, c)
		}
	}
	if sub == "approval" {
		csr.Status.Certificate = old.Status.Certificate
	}
	now := metav1.Now()
	for i := range conds {
		c := &conds[i]
		if c.Status == "" {
			c.Status = corev1.ConditionTrue
		}
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
			for _, o := range old.Status.Conditions {
				if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
					c.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
	}
	csr.Status.Conditions = conds
}
