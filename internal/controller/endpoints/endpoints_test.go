package endpoints

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func svc() *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
}

func pod(name, ip string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func start(t *testing.T, objs ...runtime.Object) (*fake.Clientset, context.Context) {
	client := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	return client, ctx
}

func TestEndpointsFollowReadiness(t *testing.T) {
	client, ctx := start(t, svc(), pod("a", "10.42.0.5", true), pod("b", "10.42.0.6", false))
	get := func() *corev1.Endpoints {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return ep
	}
	ctrltest.Eventually(t, 5*time.Second, "a ready, b not ready, port resolved to 8080", func() bool {
		ep := get()
		return ep != nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 &&
			ep.Subsets[0].Addresses[0].IP == "10.42.0.5" && ep.Subsets[0].Addresses[0].TargetRef.Name == "a" &&
			len(ep.Subsets[0].NotReadyAddresses) == 1 && ep.Subsets[0].NotReadyAddresses[0].IP == "10.42.0.6" &&
			ep.Subsets[0].Ports[0].Port == 8080 && ep.Subsets[0].Ports[0].Name == "http"
	})
	b := pod("b", "10.42.0.6", true)
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "b ready", func() bool {
		ep := get()
		return ep != nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 2 && len(ep.Subsets[0].NotReadyAddresses) == 0
	})
	// No spurious writes once converged.
	var writes atomic.Int64
	client.PrependReactor("update", "endpoints", func(clienttesting.Action) (bool, runtime.Object, error) {
		writes.Add(1)
		return false, nil, nil
	})
	if _, err := client.CoreV1().Pods("default").Update(ctx, pod("other", "10.42.0.9", true), metav1.UpdateOptions{}); err == nil {
		t.Fatal("unexpected")
	}
	a, _ := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	a.Annotations = map[string]string{"touch": "1"}
	if _, err := client.CoreV1().Pods("default").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := writes.Load(); n != 0 {
		t.Fatalf("%d endpoint writes without a change", n)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "a removed", func() bool {
		ep := get()
		return ep != nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && ep.Subsets[0].Addresses[0].IP == "10.42.0.6"
	})
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "endpoints deleted with service", func() bool { return get() == nil })
}

func TestHeadlessWithoutPorts(t *testing.T) {
	s := svc()
	s.Spec.ClusterIP = corev1.ClusterIPNone
	s.Spec.Ports = nil
	p := pod("a", "10.42.0.5", true)
	p.Spec.Hostname, p.Spec.Subdomain = "a", "web"
	client, ctx := start(t, s, p)
	ctrltest.Eventually(t, 5*time.Second, "headless endpoints", func() bool {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Ports) == 0 &&
			ep.Subsets[0].Addresses[0].Hostname == "a" && hasKey(ep.Labels, HeadlessLabel)
	})
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
