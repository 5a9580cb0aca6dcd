package controllermanager

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func TestEnabled(t *testing.T) {
	if !Enabled([]string{"*"}, "deployment") || Enabled([]string{"*", "-deployment"}, "deployment") ||
		!Enabled([]string{"deployment"}, "deployment") || Enabled([]string{"replicaset"}, "deployment") {
		t.Fatal("controller selection wrong")
	}
}

func TestUnknownController(t *testing.T) {
	err := Run(context.Background(), ctrltest.NewClientset(), Options{Controllers: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), "unknown controller") {
		t.Fatalf("err = %v", err)
	}
}

// End to end on the fake clientset: a Deployment becomes a ReplicaSet becomes
// pods, with leader election on, and /healthz and /metrics answer.
func TestRunDeploymentToPods(t *testing.T) {
	client := ctrltest.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, client, Options{LeaderElect: true, HealthAddr: "127.0.0.1:18257",
			Controllers: []string{"*", "-nodelifecycle"}, RetryPeriod: 100 * time.Millisecond})
	}()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}}}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 10*time.Second, "3 pods", func() bool {
		l, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return len(l.Items) == 3
	})
	if _, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "skiff-controller-manager", metav1.GetOptions{}); err != nil {
		t.Fatalf("leader lease: %v", err)
	}
	ctrltest.Eventually(t, 5*time.Second, "default service account", func() bool {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": `workqueue_adds_total{name="replicaset"}`} {
		resp, err := http.Get("http://127.0.0.1:18257" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Fatalf("%s does not contain %q", path, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
