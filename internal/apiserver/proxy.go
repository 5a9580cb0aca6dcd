package apiserver

import (
	"crypto/tls"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// The proxy subresources (pods/proxy, services/proxy, nodes/proxy) forward any
// HTTP request to the pod, to one ready endpoint of the service, or to the node's
// kubelet: /api/v1/namespaces/<ns>/pods/[<scheme>:]<name>[:<port>]/proxy/<path>.
// Links in HTML answers are rewritten to stay behind the proxy path, as upstream's.

// proxyTransport reaches pods and service endpoints; https targets are not
// verified (they are addressed by IP), as upstream.
var proxyTransport = &http.Transport{
	TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout: 10 * time.Second,
	IdleConnTimeout:     90 * time.Second,
	MaxIdleConnsPerHost: 10,
}

// splitSchemeNamePort parses [scheme:]name[:port].
func splitSchemeNamePort(id string) (scheme, name, port string, ok bool) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, port = parts[0], parts[1]
	case 3:
		scheme, name, port = parts[0], parts[1], parts[2]
		if scheme != "http" && scheme != "https" {
			return "", "", "", false
		}
	default:
		return "", "", "", false
	}
	return scheme, name, port, name != ""
}

// serveProxy answers the proxy subresources.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	scheme, name, port, ok := splitSchemeNamePort(ri.name)
	if !ok {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid %s request %q", ri.res.Resource, ri.name)))
		return
	}
	var loc *url.URL
	var rt http.RoundTripper = proxyTransport
	var err error
	switch ri.res.Resource {
	case "pods":
		loc, err = s.podLocation(r, ri, scheme, name, port)
	case "services":
		loc, err = s.serviceLocation(r, ri, scheme, name, port)
	case "nodes":
		loc, err = s.nodeLocation(r, scheme, name, port)
		rt = s.kubelets
	default:
		err = notFoundPath()
	}
	if err != nil {
		writeError(w, err)
		return
	}
	loc.Path = ri.proxyPath
	// wrapTransport: links in HTML answers are rewritten to go through the
	// proxy path again, and X-Forwarded-* headers are set, as upstream does.
	h := proxy.NewUpgradeAwareHandler(loc, rt, true, false, proxyResponder{})
	h.UseRequestLocation = false
	h.UseLocationHost = true
	if r.ContentLength == 0 {
		r.Body = http.NoBody // see upgradeProxy
	}
	// The client's credentials are for this server, not for the target.
	r.Header.Del("Authorization")
	r.Header.Del("X-Forwarded-For")
	h.ServeHTTP(hijackable{w}, r)
}

func (s *Server) podLocation(r *http.Request, ri requestInfo, scheme, name, port string) (*url.URL, error) {
	obj, err := s.store(ri).Get(r.Context(), s.key(ri, name), "")
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.PodIP == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP address yet", name))
	}
	host := pod.Status.PodIP
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if scheme == "" {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: host}, nil
}

// serviceLocation picks a random ready endpoint of the service port named (by
// name or number) in the request; an ExternalName service proxies to its name.
func (s *Server) serviceLocation(r *http.Request, ri requestInfo, scheme, name, port string) (*url.URL, error) {
	obj, err := s.store(ri).Get(r.Context(), s.key(ri, name), "")
	if err != nil {
		return nil, err
	}
	svc := obj.(*corev1.Service)
	if scheme == "" {
		scheme = "http"
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		host := svc.Spec.ExternalName
		if port != "" {
			host = net.JoinHostPort(host, port)
		}
		return &url.URL{Scheme: scheme, Host: host}, nil
	}
	var svcPort *corev1.ServicePort
	for i, p := range svc.Spec.Ports {
		if port == "" || p.Name == port || strconv.Itoa(int(p.Port)) == port {
			svcPort = &svc.Spec.Ports[i]
			break
		}
	}
	if svcPort == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %q found for service %q", port, name))
	}
	eri := requestInfo{namespace: ri.namespace, res: catalog.Lookup("", "v1", "endpoints")}
	eobj, err := s.store(eri).Get(r.Context(), s.key(eri, name), "")
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, ss := range eobj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != svcPort.Name {
				continue
			}
			for _, a := range ss.Addresses {
				hosts = append(hosts, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	if len(hosts) == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	return &url.URL{Scheme: scheme, Host: hosts[rand.Intn(len(hosts))]}, nil
}

// nodeLocation is the node's kubelet (https, its kubelet port) unless the
// request names another scheme or port.
func (s *Server) nodeLocation(r *http.Request, scheme, name, port string) (*url.URL, error) {
	base, err := s.kubeletURL(r, name)
	if err != nil {
		return nil, err
	}
	if scheme != "" {
		base.Scheme = scheme
	}
	if port != "" {
		host, _, _ := net.SplitHostPort(base.Host)
		base.Host = net.JoinHostPort(host, port)
	}
	return base, nil
}

// proxyResponder reports a target that cannot be reached as upstream does: 503.
type proxyResponder struct{}

func (proxyResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, apierrors.NewServiceUnavailable("error trying to reach service: "+err.Error()))
}
