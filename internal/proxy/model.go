package proxy

import (
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// defaultAffinityTimeout is Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds.
const defaultAffinityTimeout = 10800

// endpoint is one backend address of a service port.
type endpoint struct {
	IP   string
	Port int32
}

func (e endpoint) String() string { return net.JoinHostPort(e.IP, itoa(e.Port)) }

// servicePort is everything the rule renderers need for one port of one service,
// with the policies already resolved for this node.
type servicePort struct {
	Namespace, Name, PortName string
	Protocol                  string // "tcp", "udp" or "sctp" (nft spelling)
	ClusterIP                 string // empty: no ClusterIP rule (headless is dropped earlier)
	Port                      int32
	NodePort                  int32    // 0: none
	ExternalIPs               []string // spec.externalIPs and load-balancer ingress IPs
	AffinityTimeout           int32    // seconds; 0: no session affinity
	ExternalLocal             bool     // externalTrafficPolicy: Local
	InternalLocal             bool     // internalTrafficPolicy: Local
	// ClusterEndpoints are the endpoints on any node; LocalEndpoints the subset on
	// this node. Both already apply the ready → serving+terminating fallback.
	ClusterEndpoints []endpoint
	LocalEndpoints   []endpoint
	key              string // cached id()
}

// id names the service port uniquely and readably: ns/name/proto/port.
func (sp *servicePort) id() string { return sp.key }

func (sp *servicePort) setKey() {
	port := sp.PortName
	if port == "" {
		port = "p" + itoa(sp.Port)
	}
	sp.key = sp.Namespace + "/" + sp.Name + "/" + sp.Protocol + "/" + port
}

// hasExternal reports whether traffic can arrive from outside the cluster
// (NodePort, externalIPs, load balancer), where externalTrafficPolicy applies.
func (sp *servicePort) hasExternal() bool { return sp.NodePort != 0 || len(sp.ExternalIPs) > 0 }

// buildServicePorts turns services and their EndpointSlices into the per-port model
// for node nodeName. slices are grouped by the kubernetes.io/service-name label.
// The result is sorted by id so renderings are deterministic.
func buildServicePorts(services []*corev1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) []*servicePort {
	byService := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue // the ip table is IPv4 only
		}
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := s.Namespace + "/" + svc
		byService[k] = append(byService[k], s)
	}
	var out []*servicePort
	for _, svc := range services {
		out = append(out, servicePortsFor(svc, byService[svc.Namespace+"/"+svc.Name], nodeName)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

func servicePortsFor(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) []*servicePort {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	clusterIP := ipv4(svc.Spec.ClusterIP)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || (clusterIP == "" && svc.Spec.ClusterIP != "") {
		// Headless services get no rules: DNS hands out the pod IPs directly.
		// A non-IPv4 ClusterIP is not ours to program either.
		return nil
	}
	var affinity int32
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = *c.ClientIP.TimeoutSeconds
		}
	}
	var external []string
	for _, ip := range svc.Spec.ExternalIPs {
		if v := ipv4(ip); v != "" {
			external = append(external, v)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if v := ipv4(ing.IP); v != "" {
				external = append(external, v)
			}
		}
	}
	var out []*servicePort
	for _, p := range svc.Spec.Ports {
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		sp := &servicePort{
			Namespace: svc.Namespace, Name: svc.Name, PortName: p.Name, Protocol: proto,
			ClusterIP: clusterIP, Port: p.Port, ExternalIPs: external, AffinityTimeout: affinity,
			ExternalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		}
		if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			sp.NodePort = p.NodePort
		}
		sp.setKey()
		sp.ClusterEndpoints, sp.LocalEndpoints = pickEndpoints(slices, p.Name, p.Protocol, nodeName)
		out = append(out, sp)
	}
	return out
}

// candidate is an endpoint with the conditions that decide whether it gets traffic.
type candidate struct {
	ep                          endpoint
	local                       bool
	ready, serving, terminating bool
}

// pickEndpoints selects the endpoints of one service port. A slice port matches by
// name and protocol (the EndpointSlice controller has already resolved named
// targetPorts to numbers per pod). Traffic goes to ready endpoints; when there are
// none, to endpoints that are serving and terminating, so connections drain during
// a rollout instead of failing — separately for the cluster-wide and local sets,
// as upstream does.
func pickEndpoints(slices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, nodeName string) (cluster, local []endpoint) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	seen := map[endpoint]bool{}
	var cands []candidate
	for _, s := range slices {
		port, ok := slicePort(s, portName, proto)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ep := endpoint{IP: e.Addresses[0], Port: port}
			if seen[ep] || net.ParseIP(ep.IP).To4() == nil {
				continue // the same endpoint may sit in two slices during a move
			}
			seen[ep] = true
			c := candidate{ep: ep, local: e.NodeName != nil && *e.NodeName == nodeName}
			// Unset conditions mean: ready unless stated, serving = ready, not terminating.
			c.ready = e.Conditions.Ready == nil || *e.Conditions.Ready
			c.serving = c.ready
			if e.Conditions.Serving != nil {
				c.serving = *e.Conditions.Serving
			}
			c.terminating = e.Conditions.Terminating != nil && *e.Conditions.Terminating
			cands = append(cands, c)
		}
	}
	cluster = choose(cands, false)
	local = choose(cands, true)
	return cluster, local
}

func choose(cands []candidate, localOnly bool) []endpoint {
	var ready, fallback []endpoint
	for _, c := range cands {
		if localOnly && !c.local {
			continue
		}
		switch {
		case c.ready && !c.terminating:
			ready = append(ready, c.ep)
		case c.serving && c.terminating:
			fallback = append(fallback, c.ep)
		}
	}
	out := ready
	if len(out) == 0 {
		out = fallback
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IP != out[j].IP {
			return out[i].IP < out[j].IP
		}
		return out[i].Port < out[j].Port
	})
	return out
}

func slicePort(s *discoveryv1.EndpointSlice, name string, proto corev1.Protocol) (int32, bool) {
	for _, p := range s.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pn == name && pp == proto && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// ipv4 returns s in canonical dotted form when it is an IPv4 address, else "".
func ipv4(s string) string {
	ip := net.ParseIP(s)
	if ip == nil || ip.To4() == nil {
		return ""
	}
	return ip.To4().String()
}
