package e2e

// Joining with a bootstrap token (issue #11): n0 runs `skiff server` without a
// local node, `skiff token create --print-join-command` gives the join line, and
// n1 runs exactly that `skiff agent` command: no kubeconfig, no admin material on
// the node. The node must come up Ready as system:node:<name>, run a pod that
// mounts a Secret, and be refused writes to another Node.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/testbin"
	"github.com/skiff-sh/skiff/test/e2e/testbed"
	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

func TestAgentJoinsWithBootstrapToken(t *testing.T) {
	testbed.RequireCluster(t)
	bin := testbin.Path(t)
	bed := testbed.New(t, 2)
	base, err := os.MkdirTemp("", "skiff-e2e-join-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{&testbed.Cluster{Bed: bed, Bin: bin, Base: base, Names: map[string]string{"n1": "skiff-join-n1"},
		Procs: map[string]*exec.Cmd{}, Args: map[string][]string{}}}
	t.Cleanup(func() { c.Cleanup(t) })
	ctx := context.Background()
	imgDir := filepath.Join(base, "images")
	if _, err := imagebuild.Build(ctx, imgDir); err != nil {
		t.Fatal(err)
	}
	testbed.CopyImages(t, imgDir, filepath.Join(c.Dir("n1"), "agent", "images"))
	n0 := bed.Node("n0")
	c.StartSkiff(t, "n0", "server", "--data-dir", c.Dir("n0"), "--https-port", "6443", "--tls-san", n0.IP, "--disable-agent")
	c.Client = testbed.WaitAPI(t, filepath.Join(c.Dir("n0"), "kubeconfig"), filepath.Join(base, "kubeconfig"), n0.IP)

	join := strings.TrimSpace(bed.Run(t, "n0", bin, "token", "create", "--data-dir", c.Dir("n0"), "--ttl", "1h", "--print-join-command"))
	fields := strings.Fields(join)
	if len(fields) != 8 || fields[0] != "skiff" || fields[1] != "agent" || fields[3] != "https://"+n0.IP+":6443" {
		t.Fatalf("join command %q", join)
	}
	args := append(fields[1:], "--data-dir", c.Dir("n1"), "--node-name", c.Names["n1"], "--node-ip", bed.Node("n1").IP)
	c.StartSkiff(t, "n1", args...)
	c.WaitNodeReady(t, "n1", 120*time.Second)

	// The node holds its own certificate and nothing else.
	agentDir := filepath.Join(c.Dir("n1"), "agent")
	pemBytes, err := os.ReadFile(filepath.Join(agentDir, "pki", "kubelet-client-current.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := auth.ParseCertsPEM(pemBytes)
	if err != nil || certs[0].Subject.CommonName != "system:node:"+c.Names["n1"] || certs[0].Subject.Organization[0] != "system:nodes" {
		t.Fatalf("node certificate: %v %v", certs, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir("n1"), "kubeconfig")); err == nil {
		t.Error("an admin kubeconfig is on the node")
	}
	if strings.Contains(string(pemBytes), string(mustRead(t, filepath.Join(c.Dir("n0"), "tls", "admin.key")))) {
		t.Error("the admin key is on the node")
	}

	// The kubelet reads the Secret its pod mounts and runs it.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "join-secret", Namespace: "default"}, StringData: map[string]string{"k": "v"}}
	if _, err := c.Client.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "join-pod", Namespace: "default"}, Spec: corev1.PodSpec{
		NodeName: c.Names["n1"], TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers: []corev1.Container{{Name: "app", Image: imagebuild.TestAppImage, ImagePullPolicy: corev1.PullIfNotPresent,
			VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/secret"}}}},
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "join-secret"}}}},
	}}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the pod mounting a Secret runs on the joined node", func() bool {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "join-pod", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	})

	// As the node, another Node is off limits (NodeRestriction).
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(agentDir, "kubelet.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	rc.Host = "https://" + n0.IP + ":6443"
	if _, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var nodeClient kubernetes.Interface = kubernetes.NewForConfigOrDie(rc)
	_, err = nodeClient.CoreV1().Nodes().Patch(ctx, "someone-else", "application/merge-patch+json",
		[]byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the node patched another Node: %v", err)
	}
	_ = c.Client.CoreV1().Nodes().Delete(ctx, "someone-else", metav1.DeleteOptions{})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
