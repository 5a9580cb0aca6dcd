package certificates

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// ApproverOptions configures the approver.
type ApproverOptions struct {
	ctrlutil.Common
}

// Approver auto-approves kubelet client certificate requests, as upstream's
// csrapproving controller: a request for CN=system:node:<name>, O=system:nodes is
// approved when its requester may create certificatesigningrequests/nodeclient
// (a bootstrap identity getting its first certificate) or, when the requester is
// that very node, certificatesigningrequests/selfnodeclient (renewal). Permission
// is asked of the API server with a SubjectAccessReview, so RBAC decides who may
// join. Everything else is left for a human (`kubectl certificate approve`).
type Approver struct {
	client kubernetes.Interface
	lister certlisters.CertificateSigningRequestLister
	loop   *ctrlutil.Loop
	synced cache.InformerSynced
}

// NewApprover returns the controller; the caller starts factory.
func NewApprover(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ApproverOptions) *Approver {
	opts.Common = opts.Common.WithDefaults()
	inf := factory.Certificates().V1().CertificateSigningRequests()
	a := &Approver{client: client, lister: inf.Lister()}
	a.loop = ctrlutil.NewLoop("csrapproving", opts.Common, a.sync)
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.loop.Enqueue,
		UpdateFunc: func(_, cur any) { a.loop.Enqueue(cur) },
	})
	a.synced = inf.Informer().HasSynced
	return a
}

// Run starts workers and blocks until ctx ends.
func (a *Approver) Run(ctx context.Context, workers int) { a.loop.Run(ctx, workers, a.synced) }

func (a *Approver) sync(ctx context.Context, key string) error {
	csr, err := a.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if csr.Spec.SignerName != KubeletClientSigner || isDecided(csr) || len(csr.Status.Certificate) > 0 {
		return nil
	}
	req, err := parse(csr)
	if err != nil || ValidateKubeletClient(req, csr.Spec.Usages) != nil {
		return nil // not a well-formed node client request: a human decides (the signer will fail it)
	}
	sub := "nodeclient"
	if csr.Spec.Username == req.Subject.CommonName {
		sub = "selfnodeclient"
	}
	allowed, err := a.authorized(ctx, csr, sub)
	if err != nil || !allowed {
		return err
	}
	return a.approve(ctx, csr)
}

// authorized asks the API server whether the requester may create
// certificatesigningrequests/<sub>.
func (a *Approver) authorized(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, sub string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: sub, Verb: "create"},
	}}
	out, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		// A server that serves no SubjectAccessReview enforces no authorization
		// either: every authenticated requester is allowed everything there.
		klog.FromContext(ctx).V(2).Info("SubjectAccessReview is not served; treating the request as authorized", "csr", csr.Name)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("subjectaccessreview for csr %s: %w", csr.Name, err)
	}
	return out.Status.Allowed, nil
}

func (a *Approver) approve(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	next := csr.DeepCopy()
	now := metav1.Now()
	next.Status.Conditions = append(next.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved",
		Message: "Auto approving kubelet client certificate after SubjectAccessReview.", LastUpdateTime: now, LastTransitionTime: now})
	_, err := a.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
