package apiserver

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// newKubeletTransport reaches kubelets with the API server's kubelet client
// certificate (the kubelet accepts clients signed by the cluster CA). Like upstream
// without --kubelet-certificate-authority, the kubelet's serving certificate
// (self-signed per node) is not verified.
func newKubeletTransport(cert *tls.Certificate) *http.Transport {
	tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{
		TLSClientConfig:     tc,
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}
}

// serveNodeProxy proxies pods/log, exec, attach and portforward to the kubelet of
// the pod's node: https://<InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>.
// Logs are a streamed GET (or WebSocket); the others upgrade to SPDY or to the
// runtime's WebSocket channel protocols. v5.channel.k8s.io is refused with 400,
// which makes kubectl fall back to SPDY.
func (s *Server) serveNodeProxy(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := s.store(ri).Get(r.Context(), s.key(ri, ri.name), "")
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest("pod "+pod.Name+" does not have a host assigned"))
		return
	}
	base, err := s.kubeletURL(r, pod.Spec.NodeName)
	if err != nil {
		writeError(w, err)
		return
	}
	if ri.subresource != "log" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && offersStreamProtocolV5(r) {
		writeError(w, apierrors.NewBadRequest("WebSocket streaming is not supported; use SPDY"))
		return
	}
	switch ri.subresource {
	case "log":
		s.proxyLogs(w, r, pod, base)
	case "exec", "attach":
		container, err := pickContainer(pod, r.URL.Query().Get("container"))
		if err != nil {
			writeError(w, err)
			return
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("cannot %s into a container in a completed pod; current phase is %s", ri.subresource, pod.Status.Phase)))
			return
		}
		base.Path = "/" + ri.subresource + "/" + pod.Namespace + "/" + pod.Name + "/" + container
		base.RawQuery = streamQuery(r.URL.Query()).Encode()
		s.upgradeProxy(w, r, base)
	case "portforward":
		base.Path = "/portForward/" + pod.Namespace + "/" + pod.Name
		s.upgradeProxy(w, r, base)
	}
}

// offersStreamProtocolV5: v5.channel.k8s.io (what kubectl and client-go ask for)
// needs translating to SPDY for the runtime, which is not done yet; refusing it
// makes them fall back to SPDY. The older channel protocols (channel.k8s.io,
// v4.channel.k8s.io, ...) pass through: the runtime's streaming server speaks them.
func offersStreamProtocolV5(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.HasPrefix(strings.TrimSpace(p), "v5.") {
				return true
			}
		}
	}
	return false
}

// kubeletURL is the base URL of a node's kubelet from its status.
func (s *Server) kubeletURL(r *http.Request, nodeName string) (*url.URL, error) {
	nri := requestInfo{res: catalog.Lookup("", "v1", "nodes")}
	if nri.res == nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("nodes are not served"))
	}
	obj, err := s.store(nri).Get(r.Context(), s.key(nri, nodeName), "")
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewServiceUnavailable("node " + nodeName + " not found")
		}
		return nil, err
	}
	node := obj.(*corev1.Node)
	host := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeInternalDNS, corev1.NodeHostName, corev1.NodeExternalDNS} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return nil, apierrors.NewServiceUnavailable("the kubelet of node " + nodeName + " has no address")
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = 10250
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// pickContainer defaults the container name the way upstream does: the only one,
// else an error listing the choices.
func pickContainer(pod *corev1.Pod, name string) (string, error) {
	all := []string{}
	for _, c := range pod.Spec.Containers {
		all = append(all, c.Name)
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, all))
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// streamQuery translates pods/exec parameters to the kubelet's names.
func streamQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, c := range q["command"] {
		out.Add("command", c)
	}
	for from, to := range map[string]string{"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"} {
		if v := q.Get(from); v == "true" || v == "1" {
			out.Set(to, "1")
		}
	}
	return out
}

func (s *Server) proxyLogs(w http.ResponseWriter, r *http.Request, pod *corev1.Pod, base *url.URL) {
	q := r.URL.Query()
	container, err := pickContainer(pod, q.Get("container"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := logsAvailable(pod, container, q.Get("previous") == "true"); err != nil {
		writeError(w, err)
		return
	}
	base.Path = "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + container
	out := url.Values{}
	for _, k := range []string{"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	base.RawQuery = out.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, base.String(), nil)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.kubelets.RoundTrip(req)
	if err != nil {
		writeError(w, apierrors.NewServiceUnavailable("the kubelet of node "+pod.Spec.NodeName+" cannot be reached: "+err.Error()))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && wsstream.IsWebSocketRequest(r) {
		// Logs over WebSocket (binary.k8s.io / base64.binary.k8s.io): each read
		// of the log stream becomes a message.
		_ = wsstream.NewReader(resp.Body, true, wsstream.NewDefaultReaderProtocols()).Copy(hijackable{w}, r)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// logsAvailable answers 400 for containers that never ran, like upstream.
func logsAvailable(pod *corev1.Pod, container string, previous bool) error {
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if cs.Name != container {
			continue
		}
		if previous {
			if cs.LastTerminationState.Terminated == nil {
				return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
			}
			return nil
		}
		if cs.State.Waiting != nil && cs.LastTerminationState.Terminated == nil {
			return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, cs.State.Waiting.Reason))
		}
		return nil
	}
	return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, pod.Name))
}

func (s *Server) upgradeProxy(w http.ResponseWriter, r *http.Request, target *url.URL) {
	h := proxy.NewUpgradeAwareHandler(target, s.kubelets, false, true, nodeProxyResponder{})
	h.UseRequestLocation = false
	h.UseLocationHost = true
	// The upgrade request is re-sent to the kubelet as is. Its body must stay
	// http.NoBody: the size-limiting wrapper every request gets makes Request.Write
	// treat an empty body as unknown-length, and the bytes that produces on the
	// connection precede the SPDY frames, so the kubelet's streams never answer.
	if r.ContentLength == 0 {
		r.Body = http.NoBody
	}
	r.Header.Del("X-Forwarded-For")
	h.ServeHTTP(hijackable{w}, r)
}

// hijackable reaches the connection through middleware wrappers that expose
// Unwrap (the metrics recorder) but not Hijack themselves.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

func (h hijackable) Flush() { _ = http.NewResponseController(h.ResponseWriter).Flush() }

type nodeProxyResponder struct{}

func (nodeProxyResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, apierrors.NewServiceUnavailable("error proxying to the kubelet: "+err.Error()))
}
