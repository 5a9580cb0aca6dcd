package validation

import (
	"crypto/x509"
	"encoding/pem"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// knownKeyUsages are the values of spec.usages upstream accepts.
var knownKeyUsages = sets.New[string](
	"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
	"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
	"server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
	"ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
)

// ParseCSR decodes spec.request: one PEM "CERTIFICATE REQUEST" block whose
// signature checks out (so the requester holds the private key).
func ParseCSR(pemBytes []byte) (*x509.CertificateRequest, string) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, "PEM block type must be CERTIFICATE REQUEST"
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err.Error()
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "the certificate request's signature is invalid: " + err.Error()
	}
	return csr, ""
}

func validateCSR(c *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs := objectMeta(&c.ObjectMeta, false, nameIsPathSegment)
	spec := field.NewPath("spec")
	if len(c.Spec.Request) == 0 {
		errs = append(errs, field.Required(spec.Child("request"), ""))
	} else if _, msg := ParseCSR(c.Spec.Request); msg != "" {
		errs = append(errs, field.Invalid(spec.Child("request"), "<omitted>", msg))
	}
	errs = append(errs, signerName(c.Spec.SignerName, spec.Child("signerName"))...)
	if len(c.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), "usages must be provided"))
	}
	for i, u := range c.Spec.Usages {
		if !knownKeyUsages.Has(string(u)) {
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, sets.List(knownKeyUsages)))
		}
	}
	if e := c.Spec.ExpirationSeconds; e != nil && *e < 600 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return append(errs, csrStatus(&c.Status, field.NewPath("status"))...)
}

// signerName is "<domain>/<path>": a DNS subdomain, a slash, and a path.
func signerName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, rest, ok := strings.Cut(name, "/")
	if !ok || rest == "" {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(domain) {
		errs = append(errs, field.Invalid(p, name, "the domain portion "+msg))
	}
	return errs
}

func csrStatus(s *certificatesv1.CertificateSigningRequestStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range s.Conditions {
		cp := p.Child("conditions").Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(cp.Child("type"), ""))
		}
		switch c.Status {
		case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
		default:
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status,
				[]string{string(corev1.ConditionTrue), string(corev1.ConditionFalse), string(corev1.ConditionUnknown)}))
		}
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			if seen[c.Type] {
				errs = append(errs, field.Duplicate(cp.Child("type"), c.Type))
			}
			seen[c.Type] = true
			if c.Type != certificatesv1.CertificateFailed && c.Status != corev1.ConditionTrue {
				errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{string(corev1.ConditionTrue)}))
			}
		}
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(p.Child("conditions"), s.Conditions, "Approved and Denied conditions are mutually exclusive"))
	}
	if len(s.Certificate) > 0 {
		if !seen[certificatesv1.CertificateApproved] || seen[certificatesv1.CertificateFailed] {
			errs = append(errs, field.Invalid(p.Child("certificate"), "<omitted>", "certificate may only be set if the request is approved and not failed"))
		}
		if msg := certificatePEM(s.Certificate); msg != "" {
			errs = append(errs, field.Invalid(p.Child("certificate"), "<omitted>", msg))
		}
	}
	return errs
}

// certificatePEM checks status.certificate: one or more CERTIFICATE blocks, nothing else.
func certificatePEM(data []byte) string {
	n := 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			if len(strings.TrimSpace(string(data))) > 0 {
				return "trailing data after the PEM blocks"
			}
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			return "only CERTIFICATE PEM blocks without headers are allowed"
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return "invalid certificate: " + err.Error()
		}
		n++
		data = rest
	}
	if n == 0 {
		return "must contain at least one CERTIFICATE PEM block"
	}
	return ""
}

// csrUpdate: the spec is fixed at creation.
func csrUpdate(c, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	if !apiequality.Semantic.DeepEqual(c.Spec, old.Spec) {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "<omitted>", fieldImmutableErrorMsg)}
	}
	return nil
}

// csrStatusUpdate guards the status and approval subresources: the issued
// certificate cannot be replaced and a decision cannot be taken back.
func csrStatusUpdate(c, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status")
	errs := csrStatus(&c.Status, p)
	if len(old.Status.Certificate) > 0 && string(c.Status.Certificate) != string(old.Status.Certificate) {
		errs = append(errs, field.Invalid(p.Child("certificate"), "<omitted>", "updates may not modify existing certificate content"))
	}
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		if hasCSRCondition(old, t) && !hasCSRCondition(c, t) {
			errs = append(errs, field.Forbidden(p.Child("conditions"), "updates may not remove a condition of type \""+string(t)+"\""))
		}
	}
	return errs
}

func hasCSRCondition(c *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == t {
			return true
		}
	}
	return false
}
