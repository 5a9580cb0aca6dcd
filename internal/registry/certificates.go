package registry

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
)

// CertificateSigningRequests (certificates.k8s.io/v1): who asked is recorded from the
// authenticated requester, never taken from the body; /approval only decides
// (Approved or Denied); /status only reports (the certificate and other conditions).
func init() { register(csrKind{}) }

type csr = *certificatesv1.CertificateSigningRequest

type csrKind struct{}

func (csrKind) base() kind[csr] {
	return kind[csr]{group: "certificates.k8s.io", resource: "certificatesigningrequests",
		spec: func(c csr) any { return c.Spec },
		status: &status[csr]{set: func(dst, src csr) { dst.Status = src.Status },
			prepare: func(obj, old csr) { restrictCSRConditions("status", obj, old) }},
	}
}

func (k csrKind) groupResource() schema.GroupResource { return k.base().groupResource() }

func (k csrKind) build(res *catalog.Resource, opts Options) (*Strategy, error) {
	b := k.base()
	st, err := b.build(res, opts)
	if err != nil {
		return nil, err
	}
	approval := b
	approval.status = &status[csr]{set: b.status.set,
		prepare: func(obj, old csr) { restrictCSRConditions("approval", obj, old) }}
	st.Subresources = map[string]*StatusStrategy{"approval": approval.statusStrategy()}
	st.SetRequester = func(obj runtime.Object, u *auth.User) { setCSRRequester(obj.(csr), u) }
	return st, nil
}

// setCSRRequester fills spec.username/uid/groups/extra from the requester.
func setCSRRequester(c csr, u *auth.User) {
	c.Spec.Username, c.Spec.UID, c.Spec.Groups, c.Spec.Extra = "", "", nil, nil
	if u == nil {
		return
	}
	c.Spec.Username, c.Spec.UID, c.Spec.Groups = u.Name, u.UID, append([]string(nil), u.Groups...)
	if len(u.Extra) > 0 {
		c.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range u.Extra {
			c.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
		}
	}
}

// restrictCSRConditions narrows a /status or /approval write (c already carries the
// client's status over the stored object) to the conditions that subresource owns,
// keeps the certificate out of approval writes, and stamps condition times.
func restrictCSRConditions(sub string, c, old csr) {
	isDecision := func(cond certificatesv1.CertificateSigningRequestCondition) bool {
		return cond.Type == certificatesv1.CertificateApproved || cond.Type == certificatesv1.CertificateDenied
	}
	var conds []certificatesv1.CertificateSigningRequestCondition
	for _, cond := range old.Status.Conditions { // what this subresource may not change
		if isDecision(cond) == (sub == "status") {
			conds = append(conds, cond)
		}
	}
	for _, cond := range c.Status.Conditions {
		if isDecision(cond) == (sub == "approval") {
			conds = append(conds, cond)
		}
	}
	if sub == "approval" {
		c.Status.Certificate = old.Status.Certificate
	}
	now := metav1.Now()
	for i := range conds {
		cond := &conds[i]
		if cond.Status == "" {
			cond.Status = corev1.ConditionTrue
		}
		if cond.LastUpdateTime.IsZero() {
			cond.LastUpdateTime = now
		}
		if cond.LastTransitionTime.IsZero() {
			cond.LastTransitionTime = now
			for _, o := range old.Status.Conditions {
				if o.Type == cond.Type && o.Status == cond.Status && !o.LastTransitionTime.IsZero() {
					cond.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
	}
	c.Status.Conditions = conds
}
