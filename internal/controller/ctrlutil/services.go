package ctrlutil

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// ServiceKeysForPod returns the keys of the Services in pod's namespace whose
// selector matches the pod's labels.
func ServiceKeysForPod(lister corelisters.ServiceLister, pod *corev1.Pod) []string {
	svcs, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, s := range svcs {
		if s.Spec.Selector == nil {
			continue // no selector: endpoints are managed by the user
		}
		if labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			keys = append(keys, s.Namespace+"/"+s.Name)
		}
	}
	return keys
}

// ResolvePort finds the container port a Service port targets on pod: a
// number is used as is; a name is looked up among the pod's container ports
// of the same protocol.
func ResolvePort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil // unset targetPort means the service port
		}
		return tp.IntVal, nil
	}
	if tp.StrVal == "" {
		return sp.Port, nil
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, p := range c.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if p.Name == tp.StrVal && proto == protocolOf(sp) {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("no container port named %q", tp.StrVal)
}

func protocolOf(sp *corev1.ServicePort) corev1.Protocol {
	if sp.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return sp.Protocol
}

// PodEndpointPort is one resolved port of one pod for a Service.
type PodEndpointPort struct {
	Name        string
	Port        int32
	Protocol    corev1.Protocol
	AppProtocol *string
}

// PodPorts resolves every Service port for pod, skipping ports the pod does
// not expose. The result is sorted by name for stable grouping.
func PodPorts(svc *corev1.Service, pod *corev1.Pod) []PodEndpointPort {
	var out []PodEndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := ResolvePort(pod, sp)
		if err != nil {
			continue
		}
		out = append(out, PodEndpointPort{Name: sp.Name, Port: port, Protocol: protocolOf(sp), AppProtocol: sp.AppProtocol})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PortsKey is a stable string for a port set, used to group endpoints.
func PortsKey(ps []PodEndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		ap := ""
		if p.AppProtocol != nil {
			ap = *p.AppProtocol
		}
		fmt.Fprintf(&b, "%s/%d/%s/%s;", p.Name, p.Port, p.Protocol, ap)
	}
	return b.String()
}

// IsHeadless reports a Service with clusterIP None.
func IsHeadless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// ShouldPublish reports whether the pod belongs in a Service's endpoints at
// all: it has an IP and has not finished.
func ShouldPublish(pod *corev1.Pod) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// PodIP returns the pod's primary IP.
func PodIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}
