package validation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:a"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: "kubernetes.io/kube-apiserver-client-kubelet",
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}}}
}

func TestCSRValidation(t *testing.T) {
	if errs := Validate(validCSR(t)); len(errs) > 0 {
		t.Fatalf("valid CSR: %v", errs)
	}
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}
	denied := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}
	for name, mutate := range map[string]func(*certificatesv1.CertificateSigningRequest){
		"no request": func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = nil },
		"not a CSR": func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
		},
		"no signer":           func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" },
		"signer without path": func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" },
		"no usages":           func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil },
		"unknown usage": func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"root access"}
		},
		"too short": func(c *certificatesv1.CertificateSigningRequest) { s := int32(599); c.Spec.ExpirationSeconds = &s },
		"approved and denied": func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approved, denied}
		},
		"cert while pending": func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("x") },
		"approved set to False": func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse}}
		},
	} {
		c := validCSR(t)
		mutate(c)
		if errs := Validate(c); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	// Spec is immutable; a decision cannot be taken back.
	old := validCSR(t)
	changed := old.DeepCopy()
	changed.Spec.SignerName = "example.com/other"
	if errs := ValidateUpdate(changed, old); len(errs) == 0 {
		t.Error("spec change accepted")
	}
	old.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approved}
	undone := old.DeepCopy()
	undone.Status.Conditions = nil
	if errs := ValidateStatusUpdate(undone, old); len(errs) == 0 {
		t.Error("removing Approved accepted")
	}
}
