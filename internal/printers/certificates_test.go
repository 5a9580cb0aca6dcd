package printers

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCSRPrinter(t *testing.T) {
	gk := schema.GroupKind{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}
	secs := int32(3600)
	csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "node-csr-x"},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client-kubelet",
			Username: "system:bootstrap:abcdef", ExpirationSeconds: &secs}}
	expect(t, cells(t, gk, csr), map[string]any{"SignerName": "kubernetes.io/kube-apiserver-client-kubelet",
		"Requestor": "system:bootstrap:abcdef", "RequestedDuration": "60m", "Condition": "Pending"})
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	csr.Status.Certificate = []byte("x")
	csr.Spec.ExpirationSeconds = nil
	expect(t, cells(t, gk, csr), map[string]any{"Condition": "Approved,Issued", "RequestedDuration": "<none>"})
}
