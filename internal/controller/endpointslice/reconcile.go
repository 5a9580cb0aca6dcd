package endpointslice

import (
	"context"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// group is the endpoints sharing one address type and port set.
type group struct {
	addrType  discoveryv1.AddressType
	ports     []discoveryv1.EndpointPort
	endpoints []discoveryv1.Endpoint
}

func groupKey(t discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	k := string(t) + "|"
	for _, p := range ports {
		port := int32(0)
		if p.Port != nil {
			port = *p.Port
		}
		k += deref(p.Name) + "/" + strconv.Itoa(int(port)) + "/" + string(derefProto(p.Protocol)) + "/" + deref(p.AppProtocol) + ";"
	}
	return k
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefProto(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}

// desired computes the endpoint groups for svc, sorted for stable output.
func (c *Controller) desired(svc *corev1.Service, pods []*corev1.Pod) map[string]*group {
	groups := map[string]*group{}
	for _, p := range pods {
		if !ctrlutil.ShouldPublish(p) {
			continue
		}
		pp := ctrlutil.PodPorts(svc, p)
		if len(pp) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for _, x := range pp {
			x := x
			ports = append(ports, discoveryv1.EndpointPort{Name: &x.Name, Port: &x.Port, Protocol: &x.Protocol, AppProtocol: x.AppProtocol})
		}
		for _, ip := range podIPs(p) {
			t := discoveryv1.AddressTypeIPv4
			if net.ParseIP(ip).To4() == nil {
				t = discoveryv1.AddressTypeIPv6
			}
			k := groupKey(t, ports)
			g := groups[k]
			if g == nil {
				g = &group{addrType: t, ports: ports}
				groups[k] = g
			}
			g.endpoints = append(g.endpoints, c.endpoint(svc, p, ip))
		}
	}
	for _, g := range groups {
		sort.Slice(g.endpoints, func(i, j int) bool { return g.endpoints[i].TargetRef.Name < g.endpoints[j].TargetRef.Name })
	}
	return groups
}

func podIPs(p *corev1.Pod) []string {
	if len(p.Status.PodIPs) > 0 {
		out := make([]string, 0, len(p.Status.PodIPs))
		for _, ip := range p.Status.PodIPs {
			out = append(out, ip.IP)
		}
		return out
	}
	return []string{p.Status.PodIP}
}

func (c *Controller) endpoint(svc *corev1.Service, p *corev1.Pod, ip string) discoveryv1.Endpoint {
	ready := ctrlutil.IsPodReady(p)
	terminating := p.DeletionTimestamp != nil
	e := discoveryv1.Endpoint{
		Addresses: []string{ip},
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptrBool((ready && !terminating) || svc.Spec.PublishNotReadyAddresses),
			Serving:     ptrBool(ready || svc.Spec.PublishNotReadyAddresses),
			Terminating: ptrBool(terminating),
		},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Spec.NodeName != "" {
		n := p.Spec.NodeName
		e.NodeName = &n
		if node, err := c.nodeLister.Get(n); err == nil {
			if z, ok := node.Labels["topology.kubernetes.io/zone"]; ok {
				e.Zone = &z
			}
		}
	}
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
		h := p.Spec.Hostname
		e.Hostname = &h
	}
	return e
}

func ptrBool(b bool) *bool { return &b }

func sliceLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ControllerName
	if ctrlutil.IsHeadless(svc) {
		l[HeadlessLabel] = ""
	}
	return l
}

// reconcile maps desired chunks onto existing slices of the same group,
// updating only those whose content differs, creating and deleting the rest.
func (c *Controller) reconcile(ctx context.Context, key string, svc *corev1.Service, groups map[string]*group, existing []*discoveryv1.EndpointSlice) error {
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.AddressType, s.Ports)
		byGroup[k] = append(byGroup[k], s)
	}
	for _, l := range byGroup {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	if len(groups) == 0 && len(existing) == 0 {
		// Keep one empty slice so consumers can tell "no endpoints" from "not yet synced".
		groups[groupKey(discoveryv1.AddressTypeIPv4, nil)] = &group{addrType: discoveryv1.AddressTypeIPv4}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	lbls := sliceLabels(svc)
	owner := ctrlutil.NewControllerRef(svc, "v1", "Service")
	pw := &pendingWrites{since: c.opts.Clock.Now(), present: map[string]string{}, deleted: map[string]bool{}}
	var errs []error
	keep := map[string]bool{}
	for _, k := range keys {
		g := groups[k]
		olds := byGroup[k]
		for i := 0; i == 0 || i*MaxEndpointsPerSlice < len(g.endpoints); i++ {
			chunk := g.endpoints[i*MaxEndpointsPerSlice : min((i+1)*MaxEndpointsPerSlice, len(g.endpoints))]
			if i < len(olds) {
				cur := olds[i]
				keep[cur.Name] = true
				if apiequality.Semantic.DeepEqual(cur.Endpoints, chunk) && apiequality.Semantic.DeepEqual(cur.Labels, lbls) &&
					apiequality.Semantic.DeepEqual(cur.Ports, g.ports) {
					continue
				}
				s := cur.DeepCopy()
				s.Endpoints, s.Labels, s.Ports = chunk, lbls, g.ports
				if _, err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
					errs = append(errs, err)
					continue
				}
				pw.present[s.Name] = cur.ResourceVersion
				continue
			}
			s := &discoveryv1.EndpointSlice{
				ObjectMeta: metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace, Labels: lbls,
					OwnerReferences: []metav1.OwnerReference{*owner}},
				AddressType: g.addrType, Endpoints: chunk, Ports: g.ports,
			}
			created, err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					errs = append(errs, err)
				}
				continue
			}
			pw.present[created.Name] = ""
		}
	}
	for _, s := range existing {
		if keep[s.Name] {
			continue
		}
		err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		pw.deleted[s.Name] = true
	}
	if len(pw.present)+len(pw.deleted) > 0 {
		c.mu.Lock()
		c.pending[key] = pw
		c.mu.Unlock()
	}
	return utilerrors.NewAggregate(errs)
}
