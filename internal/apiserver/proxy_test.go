package apiserver_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestProxySubresources: pods/proxy and services/proxy forward the method, path
// and query to the pod or to a ready endpoint of the service port.
func TestProxySubresources(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s auth=%q", r.Method, r.URL.Path, r.URL.RawQuery, body, r.Header.Get("Authorization"))
	}))
	defer backend.Close()
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	portNum, _ := strconv.Atoi(port)

	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	p, err := c.CoreV1().Pods("default").Create(ctx, pod("web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.PodIP = "127.0.0.1"
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CoreV1().Pods("default").ProxyGet("", "web", port, "results/a b", map[string]string{"x": "1"}).DoRaw(ctx)
	if err != nil || !strings.HasPrefix(string(got), "GET /results/a b ") || !strings.Contains(string(got), "x=1") || !strings.Contains(string(got), `auth=""`) {
		t.Fatalf("pods/proxy GET: %q %v", got, err)
	}
	got, err = c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("http:web:" + port).
		SubResource("proxy").Suffix("echo").Body([]byte("hi")).DoRaw(ctx)
	if err != nil || !strings.HasPrefix(string(got), "POST /echo ") || !strings.Contains(string(got), ` hi auth=""`) {
		t.Fatalf("pods/proxy POST: %q %v", got, err)
	}

	// The path is the target's as sent, trailing slash included.
	code, body := rawRequest(t, s.Config, http.MethodGet, "/api/v1/namespaces/default/pods/web:"+port+"/proxy/dir/", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(body, "GET /dir/ ") {
		t.Fatalf("trailing slash: %d %q", code, body)
	}

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: int32(portNum)}}}}}
	if _, err := c.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, portRef := range []string{"http", "80", ""} {
		got, err = c.CoreV1().Services("default").ProxyGet("", "web", portRef, "svc", nil).DoRaw(ctx)
		if err != nil || !strings.HasPrefix(string(got), "GET /svc") {
			t.Fatalf("services/proxy via port %q: %q %v", portRef, got, err)
		}
	}
	_, err = c.CoreV1().Services("default").ProxyGet("", "web", "nope", "", nil).DoRaw(ctx)
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("unknown service port: %v", err)
	}
	backend.Close()
	_, err = c.CoreV1().Pods("default").ProxyGet("", "web", port, "x", nil).DoRaw(ctx)
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("unreachable pod: %v", err)
	}
}
