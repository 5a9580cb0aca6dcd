package endpointslice

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

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

func TestSlicesFollowPods(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	objs := []runtime.Object{svc}
	for i := range 150 {
		objs = append(objs, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.42.%d.%d", i/200, i%200+1), i%2 == 0))
	}
	client := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 2)
	slices := func() []discoveryv1.EndpointSlice {
		l, _ := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		return l.Items
	}
	ctrltest.Eventually(t, 5*time.Second, "150 endpoints in 2 slices", func() bool {
		s := slices()
		return len(s) == 2 && len(s[0].Endpoints)+len(s[1].Endpoints) == 150
	})
	time.Sleep(300 * time.Millisecond)
	s := slices()
	if len(s) != 2 {
		t.Fatalf("%d slices after settling, want 2 (no duplicates)", len(s))
	}
	ready := 0
	for _, sl := range s {
		if len(sl.Endpoints) > MaxEndpointsPerSlice {
			t.Fatalf("slice with %d endpoints", len(sl.Endpoints))
		}
		if sl.Labels[discoveryv1.LabelServiceName] != "web" || sl.Labels[discoveryv1.LabelManagedBy] != ControllerName {
			t.Fatalf("labels %v", sl.Labels)
		}
		if *sl.Ports[0].Port != 8080 || sl.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Fatalf("ports %v type %s", sl.Ports, sl.AddressType)
		}
		if ref := metav1.GetControllerOf(&sl); ref == nil || ref.Kind != "Service" || ref.Name != "web" {
			t.Fatalf("owner %+v", ref)
		}
		for _, e := range sl.Endpoints {
			if *e.Conditions.Ready {
				ready++
			}
			if *e.NodeName != "n1" || e.TargetRef.Kind != "Pod" {
				t.Fatalf("endpoint %+v", e)
			}
		}
	}
	if ready != 75 {
		t.Fatalf("%d ready endpoints, want 75", ready)
	}
	// A terminating pod stays, not ready, serving, terminating.
	p, _ := client.CoreV1().Pods("default").Get(ctx, "p000", metav1.GetOptions{})
	now := metav1.Now()
	p.DeletionTimestamp = &now
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "terminating conditions", func() bool {
		for _, sl := range slices() {
			for _, e := range sl.Endpoints {
				if e.TargetRef.Name == "p000" {
					return !*e.Conditions.Ready && *e.Conditions.Serving && *e.Conditions.Terminating
				}
			}
		}
		return false
	})
	// Drop to 10 pods: one slice remains.
	for i := 10; i < 150; i++ {
		if err := client.CoreV1().Pods("default").Delete(ctx, fmt.Sprintf("p%03d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // the fake watch buffers only 100 events
	}
	ctrltest.Eventually(t, 5*time.Second, "one slice with 10", func() bool {
		s := slices()
		return len(s) == 1 && len(s[0].Endpoints) == 10
	})
}
