// Package certificates holds the CertificateSigningRequest controllers: the
// approver (auto-approves node client certificates for bootstrap identities and
// for nodes renewing their own), the signer (issues certificates from the
// cluster CA for the kubernetes.io/* signers) and the cleaner (removes old requests).
package certificates

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/apis/validation"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// The built-in signers Skiff's signer serves.
const (
	KubeletClientSigner   = certificatesv1.KubeAPIServerClientKubeletSignerName // kubernetes.io/kube-apiserver-client-kubelet
	APIServerClientSigner = certificatesv1.KubeAPIServerClientSignerName        // kubernetes.io/kube-apiserver-client
	KubeletServingSigner  = certificatesv1.KubeletServingSignerName             // kubernetes.io/kubelet-serving
)

func condition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && (c.Status == corev1.ConditionTrue || c.Status == "") {
			return true
		}
	}
	return false
}

func isApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	return condition(csr, certificatesv1.CertificateApproved) && !condition(csr, certificatesv1.CertificateDenied)
}

func isDecided(csr *certificatesv1.CertificateSigningRequest) bool {
	return condition(csr, certificatesv1.CertificateApproved) || condition(csr, certificatesv1.CertificateDenied)
}

func isFailed(csr *certificatesv1.CertificateSigningRequest) bool {
	return condition(csr, certificatesv1.CertificateFailed)
}

func parse(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	req, msg := validation.ParseCSR(csr.Spec.Request)
	if msg != "" {
		return nil, fmt.Errorf("unable to parse csr %q: %s", csr.Name, msg)
	}
	return req, nil
}

// usagesWithin reports whether every usage is allowed and the required one is present.
func usagesWithin(usages []certificatesv1.KeyUsage, required certificatesv1.KeyUsage, allowed ...certificatesv1.KeyUsage) error {
	if !slices.Contains(usages, required) {
		return fmt.Errorf("usages must include %q", required)
	}
	for _, u := range usages {
		if !slices.Contains(allowed, u) {
			return fmt.Errorf("usage %q is not allowed for this signer (allowed: %v)", u, allowed)
		}
	}
	return nil
}

func noSANs(req *x509.CertificateRequest) error {
	if len(req.DNSNames)+len(req.EmailAddresses)+len(req.IPAddresses)+len(req.URIs) > 0 {
		return fmt.Errorf("subject alternative names are not allowed")
	}
	return nil
}

// nodeSubject checks the subject is CN=system:node:<name>, O=system:nodes (exactly).
func nodeSubject(req *x509.CertificateRequest) error {
	if !slices.Equal(req.Subject.Organization, []string{authz.NodesGroup}) {
		return fmt.Errorf("subject organization must be exactly [%s]", authz.NodesGroup)
	}
	if !strings.HasPrefix(req.Subject.CommonName, authz.NodeUserPrefix) || len(req.Subject.CommonName) == len(authz.NodeUserPrefix) {
		return fmt.Errorf("subject common name must begin with %q", authz.NodeUserPrefix)
	}
	return nil
}

// ValidateKubeletClient is the kubernetes.io/kube-apiserver-client-kubelet rule set:
// a node identity, client auth (plus digital signature / key encipherment), no SANs.
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if err := nodeSubject(req); err != nil {
		return err
	}
	if err := noSANs(req); err != nil {
		return err
	}
	return usagesWithin(usages, certificatesv1.UsageClientAuth,
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth)
}

// ValidateKubeletServing is the kubernetes.io/kubelet-serving rule set: a node
// identity, server auth, DNS and IP SANs only (at least one).
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if err := nodeSubject(req); err != nil {
		return err
	}
	if len(req.EmailAddresses)+len(req.URIs) > 0 {
		return fmt.Errorf("email and URI subject alternative names are not allowed")
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return fmt.Errorf("at least one DNS or IP subject alternative name is required")
	}
	return usagesWithin(usages, certificatesv1.UsageServerAuth,
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth)
}

// ValidateAPIServerClient is the kubernetes.io/kube-apiserver-client rule set.
func ValidateAPIServerClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if req.Subject.CommonName == "" {
		return fmt.Errorf("subject common name is required")
	}
	return usagesWithin(usages, certificatesv1.UsageClientAuth,
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth)
}

// certNotAfter returns the NotAfter of the issued certificate.
func certNotAfter(data []byte) (time.Time, error) {
	certs, err := auth.ParseCertsPEM(data)
	if err != nil {
		return time.Time{}, err
	}
	return certs[0].NotAfter, nil
}
