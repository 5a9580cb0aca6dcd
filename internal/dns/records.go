package dns

import (
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// TTL of every cluster answer, in seconds (short: endpoints move).
const TTL = 5

// Source is the read-only view of the cluster the resolver needs.
type Source interface {
	Service(namespace, name string) (*corev1.Service, bool)
	Slices(namespace, service string) []*discoveryv1.EndpointSlice
}

// ListerSource reads from informer listers.
type ListerSource struct {
	Services       corelisters.ServiceLister
	EndpointSlices discoverylisters.EndpointSliceLister
}

func (s ListerSource) Service(ns, name string) (*corev1.Service, bool) {
	svc, err := s.Services.Services(ns).Get(name)
	return svc, err == nil
}

func (s ListerSource) Slices(ns, svc string) []*discoveryv1.EndpointSlice {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc})
	out, _ := s.EndpointSlices.EndpointSlices(ns).List(sel)
	return out
}

// answer is what the resolver found for one question.
type answer struct {
	exists bool // the name exists (NOERROR even with no records)
	a      []net.IP
	cname  string
	srv    []srv
	extraA map[string]net.IP // additional section: SRV targets' addresses
}

type srv struct {
	target string
	port   uint16
}

// resolve answers a question about a name inside the cluster domain. name is
// lower case, fully qualified, without the trailing dot.
func resolve(src Source, name, zone string, qtype string) answer {
	rel := strings.TrimSuffix(name, "."+zone)
	if name == zone {
		return answer{exists: true}
	}
	if rel == name {
		return answer{}
	}
	labels := strings.Split(rel, ".")
	n := len(labels)
	switch {
	case n >= 1 && labels[n-1] == "svc":
		return resolveService(src, labels[:n-1], zone, qtype)
	case n >= 1 && labels[n-1] == "pod":
		if n == 1 || n == 2 {
			return answer{exists: true}
		}
		if n == 3 {
			if ip := undash(labels[0]); ip != nil {
				return answer{exists: true, a: []net.IP{ip}}
			}
		}
	}
	return answer{}
}

func resolveService(src Source, l []string, zone, qtype string) answer {
	switch len(l) {
	case 0, 1: // svc.<zone>, <ns>.svc.<zone>: intermediate names exist
		return answer{exists: true}
	case 2: // <svc>.<ns>
		svc, ok := src.Service(l[1], l[0])
		if !ok {
			return answer{}
		}
		return serviceAnswer(src, svc, zone, qtype)
	case 3: // <host>.<svc>.<ns>
		svc, ok := src.Service(l[2], l[1])
		if !ok || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			return answer{}
		}
		var ips []net.IP
		for _, e := range readyEndpoints(src, svc) {
			if e.host == l[0] {
				ips = append(ips, e.ip)
			}
		}
		return answer{exists: len(ips) > 0, a: ips}
	case 4: // _<port>._<proto>.<svc>.<ns>
		if !strings.HasPrefix(l[0], "_") || !strings.HasPrefix(l[1], "_") {
			return answer{}
		}
		svc, ok := src.Service(l[3], l[2])
		if !ok {
			return answer{}
		}
		return srvAnswer(src, svc, l[0][1:], l[1][1:], zone)
	}
	return answer{}
}

func serviceAnswer(src Source, svc *corev1.Service, zone, qtype string) answer {
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return answer{exists: true, cname: strings.TrimSuffix(svc.Spec.ExternalName, ".")}
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		a := answer{exists: true}
		for _, e := range readyEndpoints(src, svc) {
			a.a = append(a.a, e.ip)
		}
		return a
	default:
		a := answer{exists: true}
		if ip := net.ParseIP(svc.Spec.ClusterIP).To4(); ip != nil {
			a.a = []net.IP{ip}
		}
		return a
	}
}

func srvAnswer(src Source, svc *corev1.Service, port, proto, zone string) answer {
	base := svc.Name + "." + svc.Namespace + ".svc." + zone
	a := answer{extraA: map[string]net.IP{}}
	for _, p := range svc.Spec.Ports {
		pp := strings.ToLower(string(p.Protocol))
		if pp == "" {
			pp = "tcp"
		}
		if p.Name != port || pp != proto {
			continue
		}
		a.exists = true
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			a.srv = append(a.srv, srv{target: base, port: uint16(p.Port)})
			if ip := net.ParseIP(svc.Spec.ClusterIP).To4(); ip != nil {
				a.extraA[base] = ip
			}
			continue
		}
		for _, e := range readyEndpoints(src, svc) {
			if ep, ok := e.ports[port+"/"+pp]; ok {
				target := e.host + "." + base
				a.srv = append(a.srv, srv{target: target, port: uint16(ep)})
				a.extraA[target] = e.ip
			}
		}
	}
	return a
}

type readyEP struct {
	ip    net.IP
	host  string           // hostname, or the dashed IP when unset
	ports map[string]int32 // "name/proto" → port
}

// readyEndpoints lists a service's ready IPv4 endpoints (once each), as headless
// records only name pods that can take traffic.
func readyEndpoints(src Source, svc *corev1.Service) []readyEP {
	seen := map[string]bool{}
	var out []readyEP
	for _, s := range src.Slices(svc.Namespace, svc.Name) {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		ports := map[string]int32{}
		for _, p := range s.Ports {
			if p.Port == nil {
				continue
			}
			name, proto := "", "tcp"
			if p.Name != nil {
				name = *p.Name
			}
			if p.Protocol != nil {
				proto = strings.ToLower(string(*p.Protocol))
			}
			ports[name+"/"+proto] = *p.Port
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			ip := net.ParseIP(e.Addresses[0]).To4()
			if ip == nil || seen[ip.String()] {
				continue
			}
			seen[ip.String()] = true
			host := strings.ReplaceAll(ip.String(), ".", "-")
			if e.Hostname != nil && *e.Hostname != "" {
				host = strings.ToLower(*e.Hostname)
			}
			out = append(out, readyEP{ip: ip, host: host, ports: ports})
		}
	}
	return out
}

// undash parses "10-42-1-5" as 10.42.1.5.
func undash(s string) net.IP {
	return net.ParseIP(strings.ReplaceAll(s, "-", ".")).To4()
}
