package proxy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: ports},
	}
}

func tcpPort(name string, port int32, target string) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.Parse(target)}
}

type ep struct {
	ip                          string
	node                        string
	ready, serving, terminating bool
	hostname                    string
}

func readyEP(ip, node string) ep { return ep{ip: ip, node: node, ready: true, serving: true} }

func slice(ns, svcName, name string, ports map[string]int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for pn, p := range ports {
		pn, p, proto := pn, p, corev1.ProtocolTCP
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: &pn, Port: &p, Protocol: &proto})
	}
	for _, e := range eps {
		e := e
		x := discoveryv1.Endpoint{Addresses: []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &e.ready, Serving: &e.serving, Terminating: &e.terminating}}
		if e.node != "" {
			x.NodeName = &e.node
		}
		if e.hostname != "" {
			x.Hostname = &e.hostname
		}
		s.Endpoints = append(s.Endpoints, x)
	}
	return s
}

// manyServices makes n services with k ready endpoints each (for scale tests).
func manyServices(n, k int) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		svcs = append(svcs, svc("bench", name, fmt.Sprintf("10.43.%d.%d", i/250, i%250+1), tcpPort("http", 80, "8080")))
		var eps []ep
		for j := 0; j < k; j++ {
			eps = append(eps, readyEP(fmt.Sprintf("10.42.%d.%d", i%250, j+1+(i/250)*20), "node-a"))
		}
		slices = append(slices, slice("bench", name, name+"-abc", map[string]int32{"http": 8080}, eps...))
	}
	return svcs, slices
}
