package printers

import (
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

func init() {
	register("certificates.k8s.io", "CertificateSigningRequest", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn(),
			column("SignerName", "string", "The signer the request is addressed to."),
			column("Requestor", "string", "The user who created the request."),
			column("RequestedDuration", "string", "The certificate lifetime the requester asked for."),
			column("Condition", "string", "The request's state: Pending, Approved, Denied, Failed, Issued.")},
		row: cellsOf(func(c *certificatesv1.CertificateSigningRequest, now time.Time) []any {
			requested := "<none>"
			if c.Spec.ExpirationSeconds != nil {
				requested = duration.HumanDuration(time.Duration(*c.Spec.ExpirationSeconds) * time.Second)
			}
			return []any{c.Name, age(c.CreationTimestamp, now), c.Spec.SignerName, c.Spec.Username, requested, csrCondition(c)}
		}),
	})
}

// csrCondition is kubectl's summary: the true decision conditions joined by
// commas plus Issued once a certificate is set, or Pending.
func csrCondition(c *certificatesv1.CertificateSigningRequest) string {
	var parts []string
	for _, cond := range c.Status.Conditions {
		if cond.Status == corev1.ConditionTrue || cond.Status == "" {
			parts = append(parts, string(cond.Type))
		}
	}
	if len(c.Status.Certificate) > 0 {
		parts = append(parts, "Issued")
	}
	if len(parts) == 0 {
		return "Pending"
	}
	return strings.Join(parts, ",")
}
