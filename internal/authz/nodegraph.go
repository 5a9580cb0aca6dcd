package authz

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// NodeGraph is what the node authorizer knows of who uses what: for every node,
// the Secrets, ConfigMaps, PersistentVolumeClaims and ServiceAccounts its bound
// pods reference, and the PersistentVolumes those claims are bound to. It is
// updated from pod and claim events (informers), so an authorization decision is
// a few map lookups and never lists pods.
type NodeGraph struct {
	mu sync.RWMutex
	// refs counts, per node, how many bound pods reference an object.
	refs map[string]map[objRef]int
	// pods remembers what each pod contributed, so an update or delete can take it back.
	pods map[string]podEntry // key: namespace/name
	// claims maps namespace/claim to the volume it is bound to.
	claims map[string]string
}

type objRef struct {
	kind, namespace, name string
}

type podEntry struct {
	node string
	refs []objRef
}

// Kinds of objects a node may read through the graph.
const (
	refSecret     = "secret"
	refConfigMap  = "configmap"
	refPVC        = "pvc"
	refSA         = "serviceaccount"
	refPodsOnNode = "pod"
)

// NewNodeGraph returns an empty graph.
func NewNodeGraph() *NodeGraph {
	return &NodeGraph{refs: map[string]map[objRef]int{}, pods: map[string]podEntry{}, claims: map[string]string{}}
}

// SetPod records (or updates) a pod; pods not yet bound to a node add nothing.
func (g *NodeGraph) SetPod(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropPod(key)
	if pod.Spec.NodeName == "" {
		return
	}
	e := podEntry{node: pod.Spec.NodeName, refs: podRefs(pod)}
	g.pods[key] = e
	m := g.refs[e.node]
	if m == nil {
		m = map[objRef]int{}
		g.refs[e.node] = m
	}
	for _, r := range e.refs {
		m[r]++
	}
}

// ReplacePods forgets every pod and records pods instead (after a re-list, so
// pods deleted while the watch was down take their references with them).
func (g *NodeGraph) ReplacePods(pods []*corev1.Pod) {
	g.mu.Lock()
	g.refs, g.pods = map[string]map[objRef]int{}, map[string]podEntry{}
	g.mu.Unlock()
	for _, p := range pods {
		g.SetPod(p)
	}
}

// DeletePod forgets a pod.
func (g *NodeGraph) DeletePod(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropPod(namespace + "/" + name)
}

func (g *NodeGraph) dropPod(key string) {
	e, ok := g.pods[key]
	if !ok {
		return
	}
	delete(g.pods, key)
	m := g.refs[e.node]
	for _, r := range e.refs {
		if m[r]--; m[r] <= 0 {
			delete(m, r)
		}
	}
	if len(m) == 0 {
		delete(g.refs, e.node)
	}
}

// SetClaim records which PersistentVolume a claim is bound to ("" when unbound).
func (g *NodeGraph) SetClaim(namespace, name, volume string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if volume == "" {
		delete(g.claims, namespace+"/"+name)
		return
	}
	g.claims[namespace+"/"+name] = volume
}

// has reports whether a pod bound to node references the object.
func (g *NodeGraph) has(node string, r objRef) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.refs[node][r] > 0
}

// hasVolume reports whether a claim used by a pod on node is bound to volume.
func (g *NodeGraph) hasVolume(node, volume string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for r := range g.refs[node] {
		if r.kind == refPVC && g.claims[r.namespace+"/"+r.name] == volume {
			return true
		}
	}
	return false
}

// podRefs lists every API object a pod needs its node to read.
func podRefs(pod *corev1.Pod) []objRef {
	ns := pod.Namespace
	seen := map[objRef]bool{}
	var out []objRef
	add := func(kind, name string) {
		r := objRef{kind, ns, name}
		if name != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	add(refPodsOnNode, pod.Name)
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	add(refSA, sa)
	for _, s := range pod.Spec.ImagePullSecrets {
		add(refSecret, s.Name)
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			add(refSecret, v.Secret.SecretName)
		case v.ConfigMap != nil:
			add(refConfigMap, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			add(refPVC, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			add(refPVC, pod.Name+"-"+v.Name)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(refSecret, src.Secret.Name)
				}
				if src.ConfigMap != nil {
					add(refConfigMap, src.ConfigMap.Name)
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, e := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container{Env: e.Env, EnvFrom: e.EnvFrom})
	}
	for _, c := range containers {
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				add(refSecret, ef.SecretRef.Name)
			}
			if ef.ConfigMapRef != nil {
				add(refConfigMap, ef.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add(refSecret, e.ValueFrom.SecretKeyRef.Name)
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add(refConfigMap, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	return out
}
