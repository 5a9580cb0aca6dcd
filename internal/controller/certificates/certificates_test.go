package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func csrPEM(t *testing.T, cn string, orgs []string, dns ...string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: orgs}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func nodeCSR(t *testing.T, name, requester, cn string, orgs []string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: csrPEM(t, cn, orgs), SignerName: KubeletClientSigner, Username: requester,
			Groups: []string{"system:bootstrappers", "system:authenticated"},
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}

func testCA(t *testing.T) *auth.CA {
	t.Helper()
	p, err := auth.EnsurePKI(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.CA()
}

func TestApproverAndSigner(t *testing.T) {
	bootstrap := nodeCSR(t, "boot", "system:bootstrap:abcdef", "system:node:n1", []string{"system:nodes"})
	renewal := nodeCSR(t, "renew", "system:node:n2", "system:node:n2", []string{"system:nodes"})
	otherNode := nodeCSR(t, "other", "system:node:n2", "system:node:n3", []string{"system:nodes"}) // nodeclient: not allowed below
	admin := nodeCSR(t, "admin", "system:bootstrap:abcdef", "system:node:n1", []string{"system:masters"})
	cs := ctrltest.NewClientset(bootstrap, renewal, otherNode, admin)
	var seen []string
	// The bootstrap requester may create nodeclient requests; n2 only selfnodeclient ones.
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		ra := sar.Spec.ResourceAttributes
		seen = append(seen, sar.Spec.User+" "+ra.Subresource)
		sar.Status.Allowed = (sar.Spec.User == "system:bootstrap:abcdef" && ra.Subresource == "nodeclient") ||
			(sar.Spec.User == "system:node:n2" && ra.Subresource == "selfnodeclient")
		return true, sar, nil
	})
	factory := informers.NewSharedInformerFactory(cs, 0)
	ca := testCA(t)
	ap := NewApprover(cs, factory, ApproverOptions{})
	sg := NewSigner(cs, factory, SignerOptions{CA: ca, MaxDuration: 48 * time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go ap.Run(ctx, 1)
	go sg.Run(ctx, 1)
	get := func(name string) *certificatesv1.CertificateSigningRequest {
		c, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, name := range []string{"boot", "renew"} {
		ctrltest.Eventually(t, 10*time.Second, name+" issued", func() bool { return len(get(name).Status.Certificate) > 0 })
		certs, err := auth.ParseCertsPEM(get(name).Status.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		c := certs[0]
		if err := c.CheckSignatureFrom(ca.Cert); err != nil {
			t.Errorf("%s: not signed by the CA: %v", name, err)
		}
		if c.Subject.Organization[0] != "system:nodes" || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("%s: subject %v usages %v", name, c.Subject, c.ExtKeyUsage)
		}
		if life := c.NotAfter.Sub(c.NotBefore); life > 48*time.Hour+backdate+time.Minute {
			t.Errorf("%s: lifetime %v exceeds the max duration", name, life)
		}
	}
	// Neither the other node's request nor the system:masters one is approved.
	if len(seen) == 0 {
		t.Error("no SubjectAccessReview was asked")
	}
	for _, name := range []string{"other", "admin"} {
		if c := get(name); isDecided(c) || len(c.Status.Certificate) > 0 {
			t.Errorf("%s was approved or issued: %+v", name, c.Status)
		}
	}
}

func TestSignerHonoursExpirationSecondsAndFailsBadRequests(t *testing.T) {
	ca := testCA(t)
	s := &Signer{opts: SignerOptions{CA: ca, MaxDuration: DefaultMaxDuration}}
	s.opts.Common = s.opts.Common.WithDefaults()
	req, _ := parse(nodeCSR(t, "x", "u", "system:node:a", []string{"system:nodes"}))
	for _, tc := range []struct {
		secs *int32
		want time.Duration
	}{{ptr(int32(3600)), time.Hour}, {ptr(int32(60)), 10 * time.Minute}, {nil, DefaultMaxDuration}} {
		pemBytes, err := s.Sign(req, []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, tc.secs)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := auth.ParseCertsPEM(pemBytes)
		if got := c[0].NotAfter.Sub(c[0].NotBefore) - backdate; got < tc.want-time.Minute || got > tc.want+time.Minute {
			t.Errorf("expirationSeconds %v: lifetime %v, want %v", tc.secs, got, tc.want)
		}
	}
	// An approved kubelet-client request for a non-node subject is failed, not signed.
	bad := nodeCSR(t, "bad", "u", "mallory", []string{"system:masters"})
	bad.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	cs := ctrltest.NewClientset(bad)
	factory := informers.NewSharedInformerFactory(cs, 0)
	sg := NewSigner(cs, factory, SignerOptions{CA: ca})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go sg.Run(ctx, 1)
	ctrltest.Eventually(t, 10*time.Second, "bad request failed", func() bool {
		c, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, "bad", metav1.GetOptions{})
		return err == nil && isFailed(c) && len(c.Status.Certificate) == 0
	})
}

func TestCleanerExpiry(t *testing.T) {
	now := time.Now()
	old := func(d time.Duration, conds ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(now.Add(-d))}}
		for _, t := range conds {
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue})
		}
		return c
	}
	for _, tc := range []struct {
		csr  *certificatesv1.CertificateSigningRequest
		want bool
	}{
		{old(2 * time.Hour), false}, {old(25 * time.Hour), true},
		{old(2*time.Hour, certificatesv1.CertificateApproved), true}, {old(time.Minute, certificatesv1.CertificateApproved), false},
		{old(2*time.Hour, certificatesv1.CertificateDenied), true}, {old(2*time.Hour, certificatesv1.CertificateFailed), true},
	} {
		if got := Expired(tc.csr, now); got != tc.want {
			t.Errorf("age %v conditions %v: expired=%v, want %v", now.Sub(tc.csr.CreationTimestamp.Time), tc.csr.Status.Conditions, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
