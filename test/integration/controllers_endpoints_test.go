package integration

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// endpointsView renders a Service's Endpoints as "port:ready-ips|notready-ips"
// per subset, sorted, e.g. "8080:10.0.0.1,10.0.0.2|" .
func endpointsView(c kubernetes.Interface, name string) (string, error) {
	ep, err := c.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	var out []string
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d", p.Name, p.Port))
		}
		out = append(out, fmt.Sprintf("%s:%s|%s", strings.Join(ports, ","), ips(ss.Addresses), ips(ss.NotReadyAddresses)))
	}
	sort.Strings(out)
	return strings.Join(out, " "), nil
}

func ips(as []corev1.EndpointAddress) string {
	var s []string
	for _, a := range as {
		if a.TargetRef == nil || a.TargetRef.Kind != "Pod" {
			return "no-pod-ref"
		}
		s = append(s, a.TargetRef.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// slicesView renders the Service's EndpointSlices as "port:pod(ready/serving)..."
// per non-empty slice, sorted.
func slicesView(c kubernetes.Interface, name string) (string, error) {
	l, err := c.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return "", err
	}
	var out []string
	for _, s := range l.Items {
		if s.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			return "", fmt.Errorf("slice %s labels %v type %s", s.Name, s.Labels, s.AddressType)
		}
		if len(s.Endpoints) == 0 {
			continue
		}
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d", *p.Name, *p.Port))
		}
		for _, e := range s.Endpoints {
			eps = append(eps, fmt.Sprintf("%s(%v/%v)", e.TargetRef.Name, *e.Conditions.Ready, *e.Conditions.Serving))
		}
		sort.Strings(eps)
		out = append(out, strings.Join(ports, ",")+":"+strings.Join(eps, ","))
	}
	sort.Strings(out)
	return strings.Join(out, " "), nil
}

func expectView(t *testing.T, what, want string, view func() (string, error)) {
	t.Helper()
	var got string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if got, err = view(); err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, want %q (err %v)", what, got, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEndpointsFollowReadiness: a Service whose targetPort is a port name
// resolves it per pod, and its Endpoints and EndpointSlices follow pod
// readiness and deletion.
func TestEndpointsFollowReadiness(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	mustCreateNodes(t, c, node("n1", "10", nil))
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"endpoints", "endpointslice"}})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ip := 10
	mkPod := func(name string, port int32, labels map[string]string) {
		p := podWithCPU(name, "10m")
		p.Labels = labels
		p.Spec.NodeName = "n1"
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}, {Name: "http", ContainerPort: port}}
		created, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ip++
		markRunning(created, fmt.Sprintf("10.42.0.%d", ip))
		if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	web := map[string]string{"app": "web"}
	mkPod("a1", 8080, web)
	mkPod("a2", 8080, web)
	mkPod("b1", 9090, web)
	mkPod("other", 8080, map[string]string{"app": "other"})
	// A pod with no IP yet is not published anywhere.
	pending := podWithCPU("pending", "10m")
	pending.Labels = web
	if _, err := c.CoreV1().Pods("default").Create(ctx, pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	eps := func() (string, error) { return endpointsView(c, "web") }
	sls := func() (string, error) { return slicesView(c, "web") }
	expectView(t, "endpoints", "http=8080:a1,a2| http=9090:b1|", eps)
	expectView(t, "slices", "http=8080:a1(true/true),a2(true/true) http=9090:b1(true/true)", sls)

	// a2 stops being ready.
	a2, err := c.CoreV1().Pods("default").Get(ctx, "a2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPodCond(a2, corev1.PodReady, corev1.ConditionFalse, metav1.Now())
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, a2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectView(t, "endpoints", "http=8080:a1|a2 http=9090:b1|", eps)
	expectView(t, "slices", "http=8080:a1(true/true),a2(false/false) http=9090:b1(true/true)", sls)

	// b1 goes away; a2 comes back.
	if err := c.CoreV1().Pods("default").Delete(ctx, "b1", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	a2, _ = c.CoreV1().Pods("default").Get(ctx, "a2", metav1.GetOptions{})
	setPodCond(a2, corev1.PodReady, corev1.ConditionTrue, metav1.Now())
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, a2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectView(t, "endpoints", "http=8080:a1,a2|", eps)
	expectView(t, "slices", "http=8080:a1(true/true),a2(true/true)", sls)

	// The slices carry each endpoint's address and node; Endpoints the IPs.
	l, _ := c.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if len(e.Addresses) != 1 || !strings.HasPrefix(e.Addresses[0], "10.42.0.") || e.NodeName == nil || *e.NodeName != "n1" {
				t.Fatalf("endpoint %+v", e)
			}
		}
		if !slices.ContainsFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool { return r.Kind == "Service" && r.Name == "web" }) {
			t.Fatalf("slice %s owners %v", s.Name, s.OwnerReferences)
		}
	}
}
