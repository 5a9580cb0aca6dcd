package certificates

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// DefaultMaxDuration is the longest certificate the signer issues (upstream's
// --cluster-signing-duration default, one year).
const DefaultMaxDuration = 365 * 24 * time.Hour

// minDuration is the shortest spec.expirationSeconds honoured (10 minutes).
const minDuration = 10 * time.Minute

// backdate lets a client whose clock runs a little slow accept a fresh certificate.
const backdate = 5 * time.Minute

// SignerOptions configures the signer.
type SignerOptions struct {
	ctrlutil.Common
	CA *auth.CA
	// MaxDuration caps every certificate's lifetime (DefaultMaxDuration when zero).
	MaxDuration time.Duration
}

// Signer issues certificates from the cluster CA for approved requests to the
// kubelet client, API server client and kubelet serving signers.
type Signer struct {
	client kubernetes.Interface
	lister certlisters.CertificateSigningRequestLister
	opts   SignerOptions
	loop   *ctrlutil.Loop
	synced cache.InformerSynced
}

// NewSigner returns the controller; the caller starts factory.
func NewSigner(client kubernetes.Interface, factory informers.SharedInformerFactory, opts SignerOptions) *Signer {
	opts.Common = opts.Common.WithDefaults()
	if opts.MaxDuration <= 0 {
		opts.MaxDuration = DefaultMaxDuration
	}
	inf := factory.Certificates().V1().CertificateSigningRequests()
	s := &Signer{client: client, lister: inf.Lister(), opts: opts}
	s.loop = ctrlutil.NewLoop("csrsigning", opts.Common, s.sync)
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.loop.Enqueue,
		UpdateFunc: func(_, cur any) { s.loop.Enqueue(cur) },
	})
	s.synced = inf.Informer().HasSynced
	return s
}

// Run starts workers and blocks until ctx ends.
func (s *Signer) Run(ctx context.Context, workers int) { s.loop.Run(ctx, workers, s.synced) }

func (s *Signer) sync(ctx context.Context, key string) error {
	csr, err := s.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !isApproved(csr) || isFailed(csr) || len(csr.Status.Certificate) > 0 {
		return nil
	}
	check := map[string]func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error{
		KubeletClientSigner: ValidateKubeletClient, APIServerClientSigner: ValidateAPIServerClient,
		KubeletServingSigner: ValidateKubeletServing,
	}[csr.Spec.SignerName]
	if check == nil {
		return nil // another signer's request
	}
	req, err := parse(csr)
	if err == nil {
		err = check(req, csr.Spec.Usages)
	}
	if err != nil {
		return s.fail(ctx, csr, err)
	}
	certPEM, err := s.Sign(req, csr.Spec.Usages, csr.Spec.ExpirationSeconds)
	if err != nil {
		return err
	}
	next := csr.DeepCopy()
	next.Status.Certificate = certPEM
	_, err = s.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version is on its way through the informer
	}
	return err
}

// fail marks a request this signer will never sign, so the requester stops waiting.
func (s *Signer) fail(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, why error) error {
	next := csr.DeepCopy()
	now := metav1.Now()
	next.Status.Conditions = append(next.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
		Message: why.Error(), LastUpdateTime: now, LastTransitionTime: now})
	_, err := s.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Duration is the lifetime of a certificate: the requested one (at least 10
// minutes) or max, whichever is shorter.
func Duration(max time.Duration, expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return max
	}
	d := time.Duration(*expirationSeconds) * time.Second
	if d < minDuration {
		d = minDuration
	}
	if d > max {
		d = max
	}
	return d
}

// Sign issues a certificate for req with the subject and SANs it asks for and the
// key usages of the request; it never outlives the CA.
func (s *Signer) Sign(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, expirationSeconds *int32) ([]byte, error) {
	now := s.opts.Clock.Now()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(Duration(s.opts.MaxDuration, expirationSeconds))
	if ca := s.opts.CA.Cert; notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: req.Subject,
		DNSNames: req.DNSNames, IPAddresses: req.IPAddresses, EmailAddresses: req.EmailAddresses, URIs: req.URIs,
		NotBefore: now.Add(-backdate), NotAfter: notAfter, BasicConstraintsValid: true,
	}
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature:
			tmpl.KeyUsage |= x509.KeyUsageDigitalSignature
		case certificatesv1.UsageKeyEncipherment:
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		case certificatesv1.UsageClientAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		case certificatesv1.UsageServerAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.opts.CA.Cert, req.PublicKey, s.opts.CA.Key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
