package framework

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeInfo is the scheduler's view of one node: the Node object plus the
// sum of what the pods on it (bound or assumed) use. Plugins must treat it
// as read-only: the snapshot shares it between goroutines.
type NodeInfo struct {
	node *v1.Node

	Pods []*PodInfo
	// PodsWithAffinity / PodsWithRequiredAntiAffinity are subsets of Pods,
	// kept so InterPodAffinity need not scan every pod.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo

	Allocatable      Resource
	Requested        Resource
	NonZeroRequested Resource
	UsedPorts        HostPortInfo
	// Images maps every name of every image present on the node to its size.
	Images map[string]int64

	// Generation increases on every change; the snapshot copies a node only
	// when its generation moved.
	Generation int64
}

// NewNodeInfo builds a NodeInfo for node (nil is allowed: pods can be seen
// before their node).
func NewNodeInfo(node *v1.Node, pods ...*PodInfo) *NodeInfo {
	ni := &NodeInfo{}
	ni.SetNode(node)
	for _, p := range pods {
		ni.AddPod(p)
	}
	return ni
}

// Node returns the Node object (nil if not yet seen).
func (n *NodeInfo) Node() *v1.Node { return n.node }

// Name returns the node name, or "" when the node object is unknown.
func (n *NodeInfo) Name() string {
	if n.node == nil {
		return ""
	}
	return n.node.Name
}

// SetNode replaces the node object and recomputes what derives from it.
func (n *NodeInfo) SetNode(node *v1.Node) {
	n.node = node
	n.Allocatable = Resource{}
	n.Images = nil
	if node == nil {
		return
	}
	n.Allocatable = NewResource(node.Status.Allocatable)
	if len(node.Status.Images) > 0 {
		n.Images = make(map[string]int64, len(node.Status.Images)*2)
		for _, img := range node.Status.Images {
			for _, name := range img.Names {
				n.Images[NormalizeImageName(name)] = img.SizeBytes
			}
		}
	}
}

// AddPod charges a pod to the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	if len(p.RequiredAffinityTerms)+len(p.PreferredAffinityTerms)+len(p.RequiredAntiAffinityTerms)+len(p.PreferredAntiAffinityTerms) > 0 {
		n.PodsWithAffinity = append(n.PodsWithAffinity, p)
	}
	if len(p.RequiredAntiAffinityTerms) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
	}
	n.update(p, 1)
}

// RemovePod uncharges a pod; it reports whether the pod was there.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	i := indexOf(n.Pods, uid)
	if i < 0 {
		return false
	}
	p := n.Pods[i]
	n.Pods = removeAt(n.Pods, i)
	if j := indexOf(n.PodsWithAffinity, uid); j >= 0 {
		n.PodsWithAffinity = removeAt(n.PodsWithAffinity, j)
	}
	if j := indexOf(n.PodsWithRequiredAntiAffinity, uid); j >= 0 {
		n.PodsWithRequiredAntiAffinity = removeAt(n.PodsWithRequiredAntiAffinity, j)
	}
	n.update(p, -1)
	return true
}

func (n *NodeInfo) update(p *PodInfo, sign int64) {
	n.Requested.Plus(&p.Requests, sign)
	n.NonZeroRequested.Plus(&p.NonZeroRequests, sign)
	// AllowedPodNumber in Requested counts pods, so "Too many pods" works
	// like any other resource.
	n.Requested.AllowedPodNumber += sign
	for _, hp := range p.Ports {
		if sign > 0 {
			n.UsedPorts.Add(hp)
		} else {
			n.UsedPorts.Remove(hp)
		}
	}
}

// Clone returns a copy that can be changed without affecting n. Pod infos
// themselves are immutable and shared.
func (n *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{
		node:             n.node,
		Pods:             append([]*PodInfo(nil), n.Pods...),
		Allocatable:      n.Allocatable.Clone(),
		Requested:        n.Requested.Clone(),
		NonZeroRequested: n.NonZeroRequested.Clone(),
		UsedPorts:        n.UsedPorts.Clone(),
		Images:           n.Images, // derived from node only; replaced, never mutated
		Generation:       n.Generation,
	}
	if len(n.PodsWithAffinity) > 0 {
		c.PodsWithAffinity = append([]*PodInfo(nil), n.PodsWithAffinity...)
	}
	if len(n.PodsWithRequiredAntiAffinity) > 0 {
		c.PodsWithRequiredAntiAffinity = append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...)
	}
	return c
}

func indexOf(ps []*PodInfo, uid types.UID) int {
	for i, p := range ps {
		if p.Pod.UID == uid {
			return i
		}
	}
	return -1
}

func removeAt(ps []*PodInfo, i int) []*PodInfo {
	last := len(ps) - 1
	ps[i] = ps[last]
	ps[last] = nil
	return ps[:last]
}

// NormalizeImageName adds the implicit ":latest" tag so "nginx" on a pod
// matches "nginx:latest" in node status.
func NormalizeImageName(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	slash := strings.LastIndexByte(name, '/')
	if strings.IndexByte(name[slash+1:], ':') < 0 {
		return name + ":latest"
	}
	return name
}

// HostPortInfo records used host ports: ip -> protocol/port set.
type HostPortInfo map[string]map[protoPort]struct{}

type protoPort struct {
	proto v1.Protocol
	port  int32
}

const anyIP = "0.0.0.0"

// Add marks a port used.
func (h *HostPortInfo) Add(hp HostPort) {
	if *h == nil {
		*h = make(HostPortInfo, 1)
	}
	m := (*h)[hp.IP]
	if m == nil {
		m = make(map[protoPort]struct{}, 1)
		(*h)[hp.IP] = m
	}
	m[protoPort{hp.Protocol, hp.Port}] = struct{}{}
}

// Remove frees a port.
func (h HostPortInfo) Remove(hp HostPort) {
	if m := h[hp.IP]; m != nil {
		delete(m, protoPort{hp.Protocol, hp.Port})
		if len(m) == 0 {
			delete(h, hp.IP)
		}
	}
}

// Conflicts reports whether hp clashes with a used port: same protocol and
// port on the same IP, or either side bound to 0.0.0.0 (all addresses).
func (h HostPortInfo) Conflicts(hp HostPort) bool {
	pp := protoPort{hp.Protocol, hp.Port}
	if hp.IP == anyIP {
		for _, m := range h {
			if _, ok := m[pp]; ok {
				return true
			}
		}
		return false
	}
	for _, ip := range [2]string{hp.IP, anyIP} {
		if _, ok := h[ip][pp]; ok {
			return true
		}
	}
	return false
}

// Clone deep-copies the port table.
func (h HostPortInfo) Clone() HostPortInfo {
	if len(h) == 0 {
		return nil
	}
	c := make(HostPortInfo, len(h))
	for ip, m := range h {
		cm := make(map[protoPort]struct{}, len(m))
		for k := range m {
			cm[k] = struct{}{}
		}
		c[ip] = cm
	}
	return c
}
