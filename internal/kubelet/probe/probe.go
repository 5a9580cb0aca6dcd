// Package probe runs one check of a Kubernetes probe or lifecycle handler: exec
// (through the runtime), httpGet, tcpSocket or grpc. Timing, thresholds and what a
// result means are the caller's business.
package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ExecFunc runs cmd in the container and returns its exit code and output.
type ExecFunc func(ctx context.Context, cmd []string, timeout time.Duration) (exitCode int32, output []byte, err error)

// Target is where a probe runs: the pod's IP, the container's declared ports (for
// named ports) and a way to exec in the container.
type Target struct {
	PodIP string
	Ports []corev1.ContainerPort
	Exec  ExecFunc
}

// Result is the outcome of one check; Message explains a failure.
type Result struct {
	OK      bool
	Message string
}

func fail(format string, a ...any) Result { return Result{Message: fmt.Sprintf(format, a...)} }

// Do runs h once within timeout.
func Do(ctx context.Context, h corev1.ProbeHandler, t Target, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		return doExec(ctx, h.Exec, t, timeout)
	case h.HTTPGet != nil:
		return doHTTP(ctx, h.HTTPGet, t)
	case h.TCPSocket != nil:
		return doTCP(ctx, h.TCPSocket, t)
	case h.GRPC != nil:
		return doGRPC(ctx, h.GRPC, t)
	}
	return fail("probe has no handler")
}

// Lifecycle converts a lifecycle hook into the equivalent probe handler; sleep
// hooks are handled by the caller (ok=false).
func Lifecycle(h *corev1.LifecycleHandler) (corev1.ProbeHandler, bool) {
	switch {
	case h.Exec != nil:
		return corev1.ProbeHandler{Exec: h.Exec}, true
	case h.HTTPGet != nil:
		return corev1.ProbeHandler{HTTPGet: h.HTTPGet}, true
	case h.TCPSocket != nil:
		return corev1.ProbeHandler{TCPSocket: h.TCPSocket}, true
	}
	return corev1.ProbeHandler{}, false
}

func doExec(ctx context.Context, e *corev1.ExecAction, t Target, timeout time.Duration) Result {
	if t.Exec == nil {
		return fail("exec is not available")
	}
	code, out, err := t.Exec(ctx, e.Command, timeout)
	if err != nil {
		return fail("exec %q: %v", e.Command, err)
	}
	if code != 0 {
		return fail("command %q exited with %d: %s", e.Command, code, strings.TrimSpace(string(out)))
	}
	return Result{OK: true}
}

// Port resolves a numeric or named port against the container's ports.
func Port(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in the container's ports", p.StrVal)
}

func doHTTP(ctx context.Context, g *corev1.HTTPGetAction, t Target) Result {
	port, err := Port(g.Port, t.Ports)
	if err != nil {
		return fail("%v", err)
	}
	host := g.Host
	if host == "" {
		host = t.PodIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	u, err = u.Parse(path)
	if err != nil {
		return fail("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		// Probes never reuse connections, like upstream: each check is independent.
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 10 || r.URL.Hostname() != u.Hostname() {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail("Get %q: %v", u.String(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Result{OK: true}
	}
	return fail("HTTP probe failed with statuscode: %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

func doTCP(ctx context.Context, s *corev1.TCPSocketAction, t Target) Result {
	port, err := Port(s.Port, t.Ports)
	if err != nil {
		return fail("%v", err)
	}
	host := s.Host
	if host == "" {
		host = t.PodIP
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fail("dial tcp %s:%d: %v", host, port, err)
	}
	c.Close()
	return Result{OK: true}
}

func doGRPC(ctx context.Context, g *corev1.GRPCAction, t Target) Result {
	addr := net.JoinHostPort(t.PodIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fail("grpc %s: %v", addr, err)
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fail("grpc health check %s: %v", addr, err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fail("service unhealthy (responded with %q)", resp.Status)
	}
	return Result{OK: true}
}
