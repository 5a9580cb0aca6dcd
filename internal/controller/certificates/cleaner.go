package certificates

import (
	"context"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Upstream's retention: decided or finished requests go after an hour, pending
// ones after a day; an issued certificate's request goes once the certificate expired.
const (
	approvedTTL = time.Hour
	deniedTTL   = time.Hour
	failedTTL   = time.Hour
	pendingTTL  = 24 * time.Hour
)

// CleanerOptions configures the cleaner.
type CleanerOptions struct {
	ctrlutil.Common
	// Interval between sweeps (one minute when zero).
	Interval time.Duration
}

// Cleaner deletes old CertificateSigningRequests so they do not pile up.
type Cleaner struct {
	client kubernetes.Interface
	lister certlisters.CertificateSigningRequestLister
	opts   CleanerOptions
	synced cache.InformerSynced
}

// NewCleaner returns the controller; the caller starts factory.
func NewCleaner(client kubernetes.Interface, factory informers.SharedInformerFactory, opts CleanerOptions) *Cleaner {
	opts.Common = opts.Common.WithDefaults()
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	inf := factory.Certificates().V1().CertificateSigningRequests()
	return &Cleaner{client: client, lister: inf.Lister(), opts: opts, synced: inf.Informer().HasSynced}
}

// Run sweeps every Interval until ctx ends.
func (c *Cleaner) Run(ctx context.Context) {
	if !cache.WaitForNamedCacheSync("csrcleaner", ctx.Done(), c.synced) {
		return
	}
	wait.UntilWithContext(ctx, c.sweep, c.opts.Interval)
}

func (c *Cleaner) sweep(ctx context.Context) {
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return
	}
	now := c.opts.Clock.Now()
	for _, csr := range all {
		if !Expired(csr, now) {
			continue
		}
		err := c.client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &csr.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.FromContext(ctx).Error(err, "Deleting old CertificateSigningRequest", "csr", csr.Name)
		}
	}
}

// Expired reports whether csr is old enough to be removed.
func Expired(csr *certificatesv1.CertificateSigningRequest, now time.Time) bool {
	age := now.Sub(csr.CreationTimestamp.Time)
	switch {
	case isFailed(csr):
		return age > failedTTL
	case condition(csr, certificatesv1.CertificateDenied):
		return age > deniedTTL
	case isApproved(csr):
		if len(csr.Status.Certificate) > 0 {
			if notAfter, err := certNotAfter(csr.Status.Certificate); err == nil && now.After(notAfter) {
				return true
			}
		}
		return age > approvedTTL
	}
	return age > pendingTTL
}
