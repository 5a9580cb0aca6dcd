package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

func init() { register(serviceKind{}) }

// serviceKind is the Service strategy: the generic one plus ClusterIP and NodePort
// allocation, which depends on the cluster's ranges (Options).
type serviceKind struct{}

var serviceBase = kind[*corev1.Service]{
	group: "", resource: "services",
	defaults:      defaults.Service,
	spec:          func(s *corev1.Service) any { return s.Spec },
	prepareUpdate: keepServiceAllocations,
	status:        &status[*corev1.Service]{set: func(dst, src *corev1.Service) { dst.Status = src.Status }},
}

func (serviceKind) groupResource() schema.GroupResource { return serviceBase.groupResource() }

func (serviceKind) build(res *catalog.Resource, opts Options) (*Strategy, error) {
	st, err := serviceBase.build(res, opts)
	if err != nil {
		return nil, err
	}
	a, err := newServiceAllocator(opts)
	if err != nil {
		return nil, err
	}
	st.Allocate, st.services = a.effects, a
	return st, nil
}

// keepServiceAllocations carries the allocated addresses over an update that omits them.
func keepServiceAllocations(svc, current *corev1.Service) {
	if svc.Spec.ClusterIP == "" {
		svc.Spec.ClusterIP = current.Spec.ClusterIP
	}
	if len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = current.Spec.ClusterIPs
	}
	ports := map[string]int32{}
	for _, p := range current.Spec.Ports {
		ports[portKey(p)] = p.NodePort
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 && svc.Spec.Type != corev1.ServiceTypeClusterIP && svc.Spec.Type != "" {
			p.NodePort = ports[portKey(*p)]
		}
	}
}

// portKey identifies a port across an update; the protocol may not be defaulted yet.
func portKey(p corev1.ServicePort) string {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return p.Name + "/" + string(proto) + "/" + strconv.Itoa(int(p.Port))
}
