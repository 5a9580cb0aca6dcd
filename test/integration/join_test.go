package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestNodeJoinsWithBootstrapToken: a node that knows only the server URL, a
// bootstrap token and the CA pin gets its own client certificate
// (CN=system:node:<name>, O=system:nodes) through a CSR the controllers approve
// and sign, and works as that identity. A wrong pin is refused before the token
// is ever sent.
func TestNodeJoinsWithBootstrapToken(t *testing.T) {
	s := testserver.Start(t)
	tlsDir := filepath.Join(s.DataDir, "tls")
	startControllerManager(t, s, controllermanager.Options{
		Controllers:            []string{"csrapproving", "csrsigning", "tokencleaner"},
		ClusterSigningCertFile: filepath.Join(tlsDir, "ca.crt"), ClusterSigningKeyFile: filepath.Join(tlsDir, "ca.key"),
	})
	ctx := context.Background()
	admin := fastClient(t, s)
	token, err := auth.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := auth.BootstrapTokenSecret(token, time.Hour, "integration", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Secrets("kube-system").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pin, err := auth.CAHashOfPEM(s.Config.CAData)
	if err != nil {
		t.Fatal(err)
	}

	// cluster-info is published with the CA.
	cm, err := admin.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["kubeconfig"], "certificate-authority-data") {
		t.Fatalf("cluster-info: %v %v", cm, err)
	}

	// TokenReview: the bootstrap token authenticates as system:bootstrap:<id>.
	tr, err := admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil || !tr.Status.Authenticated || tr.Status.User.Username != auth.BootstrapUserPrefix+token[:6] {
		t.Fatalf("token review: %+v %v", tr, err)
	}
	bad, err := admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token[:7] + strings.Repeat("0", 16)}}, metav1.CreateOptions{})
	if err != nil || bad.Status.Authenticated {
		t.Fatalf("bad token review: %+v %v", bad, err)
	}

	wrongPin := "sha256:" + strings.Repeat("ab", 32)
	if _, err := agent.DiscoverCA(ctx, s.URL, token, wrongPin); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong pin: %v", err)
	}

	dir := t.TempDir()
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, _, err := agent.Join(jctx, dir, "node-a", s.URL, token, pin)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	node := kubernetes.NewForConfigOrDie(rc)
	who, err := node.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := who.Status.UserInfo; u.Username != "system:node:node-a" || !slices.Contains(u.Groups, "system:nodes") {
		t.Fatalf("joined as %+v", u)
	}
	// The CSR recorded the bootstrap identity as its requester, not anything the client said.
	csrs, err := admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil || len(csrs.Items) != 1 {
		t.Fatalf("csrs: %v %v", csrs, err)
	}
	if got := csrs.Items[0].Spec.Username; got != auth.BootstrapUserPrefix+token[:6] {
		t.Errorf("CSR requester %q", got)
	}
	// The node kubeconfig holds no admin material: only the node's rotating cert.
	kc, err := os.ReadFile(filepath.Join(dir, "kubelet.kubeconfig"))
	if err != nil || strings.Contains(string(kc), "token") || !strings.Contains(string(kc), "kubelet-client-current.pem") {
		t.Fatalf("kubelet.kubeconfig: %s %v", kc, err)
	}

	// As itself, the node registers, reports status and renews its Lease.
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}
	if _, err := node.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, _ = node.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
	if _, err := node.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("own node status: %v", err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "kube-node-lease"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a"), LeaseDurationSeconds: ptr(int32(40))}}
	if _, err := node.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatalf("own lease: %v", err)
	}

	// NodeRestriction (wired in the server): another node's objects are refused.
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"labels":{"stolen":"yes"}}}`)
	if _, err := node.CoreV1().Nodes().Patch(ctx, "node-b", "application/merge-patch+json", patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("patching another node: %v", err)
	}
	restricted := []byte(`{"metadata":{"labels":{"node-restriction.kubernetes.io/trusted":"yes"}}}`)
	if _, err := node.CoreV1().Nodes().Patch(ctx, "node-a", "application/merge-patch+json", restricted, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("self-labelling under node-restriction.kubernetes.io/: %v", err)
	}
	otherLease := lease.DeepCopy()
	otherLease.Name = "node-b"
	if _, err := node.CoordinationV1().Leases("kube-node-lease").Create(ctx, otherLease, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("another node's lease: %v", err)
	}
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if _, err := node.CoreV1().Pods("default").Create(ctx, plain, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a node creating a non-mirror pod: %v", err)
	}

	// The Node authorizer's graph, fed from this server: node-a may read the Secret
	// its pod uses and not one no pod of its uses.
	graph := authz.NewNodeGraph()
	gctx, gcancel := context.WithCancel(ctx)
	defer gcancel()
	authz.RunNodeGraph(gctx, admin, graph)
	used := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "uses-secret", Namespace: "default"}, Spec: corev1.PodSpec{
		NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "x"}},
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mine"}}}}}}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, used, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodeA := &auth.User{Name: who.Status.UserInfo.Username, Groups: who.Status.UserInfo.Groups}
	decide := func(secret string) authz.Decision {
		d, _, _ := authz.NewNode(graph).Authorize(ctx, authz.Attributes{User: nodeA, Verb: "get", ResourceRequest: true,
			APIVersion: "v1", Resource: "secrets", Namespace: "default", Name: secret})
		return d
	}
	eventually(t, 10*time.Second, "graph sees the pod", func() (bool, error) { return decide("mine") == authz.Allow, nil })
	if d := decide("not-mine"); d == authz.Allow {
		t.Errorf("node-a may read a secret no pod of its uses")
	}

	// A restart needs no token: the stored certificate is reused.
	rc2, _, err := agent.Join(jctx, dir, "node-a", "", "", "")
	if err != nil {
		t.Fatalf("rejoin without token: %v", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(rc2).CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// Renewal: the node asks for a new certificate as itself (selfnodeclient).
	certPEM, _, err := agent.RequestNodeCertificate(ctx, node, "node-a")
	if err != nil {
		t.Fatalf("renewal: %v", err)
	}
	certs, _ := auth.ParseCertsPEM(certPEM)
	if certs[0].Subject.CommonName != "system:node:node-a" {
		t.Errorf("renewed subject %v", certs[0].Subject)
	}

	// kubectl certificate deny: a manual decision through the approval subresource.
	csr := csrs.Items[0].DeepCopy()
	csr.ObjectMeta = metav1.ObjectMeta{Name: "manual"}
	csr.Spec.SignerName = "example.com/custom"
	csr.Spec.Username = "spoofed-admin"
	created, err := admin.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Username == "spoofed-admin" {
		t.Error("the server trusted spec.username from the client")
	}
	created.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Reason: "Test"}}
	denied, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "manual", created, metav1.UpdateOptions{})
	if err != nil || len(denied.Status.Conditions) != 1 || denied.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("deny: %+v %v", denied, err)
	}
	denied.Status.Conditions = nil
	if _, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "manual", denied, metav1.UpdateOptions{}); err == nil {
		t.Error("a decision was taken back")
	}
}
