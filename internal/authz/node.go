package authz

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NodeLeaseNamespace holds the nodes' heartbeat Leases.
const NodeLeaseNamespace = "kube-node-lease"

// Node is upstream's Node authorization mode: a kubelet (user system:node:<name>
// in system:nodes) may do what running its node needs and no more — read only the
// Secrets, ConfigMaps, claims, volumes and service account tokens its own pods
// use, write only its own Node, Lease and its pods' status. What it names is
// checked by the NodeRestriction admission plugin (which object a create or an
// update really touches). Requests of other users, and node requests this mode
// does not cover, get NoOpinion.
type Node struct {
	graph *NodeGraph
}

// NewNode returns the Node authorizer over graph (fed by RunNodeGraph).
func NewNode(graph *NodeGraph) *Node { return &Node{graph: graph} }

var (
	readVerbs  = map[string]bool{"get": true, "list": true, "watch": true}
	writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true}
)

// Authorize implements Authorizer.
func (n *Node) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	node := NodeName(a.User)
	if node == "" || !a.ResourceRequest {
		return NoOpinion, "", nil
	}
	switch a.APIGroup {
	case "":
		return n.core(node, a)
	case "coordination.k8s.io":
		if a.Resource == "leases" && a.Namespace == NodeLeaseNamespace && (readVerbs[a.Verb] || writeVerbs[a.Verb]) && (a.Name == "" || a.Name == node) {
			if a.Name == "" && a.Verb != "create" && a.Verb != "list" && a.Verb != "watch" {
				return NoOpinion, "", nil
			}
			return Allow, "", nil
		}
	case "events.k8s.io":
		if a.Resource == "events" && (a.Verb == "create" || a.Verb == "update" || a.Verb == "patch") {
			return Allow, "", nil
		}
	case "discovery.k8s.io":
		if a.Resource == "endpointslices" && readVerbs[a.Verb] {
			return Allow, "", nil
		}
	case "certificates.k8s.io":
		// Nodes renew their own certificates (the approver checks the subject).
		if a.Resource == "certificatesigningrequests" && a.Subresource == "" && (a.Verb == "create" || readVerbs[a.Verb]) {
			return Allow, "", nil
		}
		if a.Resource == "certificatesigningrequests" && a.Subresource == "selfnodeclient" && a.Verb == "create" {
			return Allow, "", nil
		}
	case "authentication.k8s.io":
		if a.Resource == "tokenreviews" && a.Verb == "create" {
			return Allow, "", nil
		}
	case "authorization.k8s.io":
		if a.Resource == "subjectaccessreviews" && a.Verb == "create" {
			return Allow, "", nil
		}
	case "storage.k8s.io", "node.k8s.io":
		if readVerbs[a.Verb] {
			return Allow, "", nil // storage classes, CSI drivers and runtime classes are not secret
		}
	}
	return NoOpinion, "", nil
}

func (n *Node) core(node string, a Attributes) (Decision, string, error) {
	switch a.Resource {
	case "nodes":
		if readVerbs[a.Verb] && a.Subresource == "" {
			return Allow, "", nil
		}
		if a.Verb == "create" && a.Subresource == "" {
			return Allow, "", nil // NodeRestriction: only a Node of its own name
		}
		if (a.Verb == "update" || a.Verb == "patch" || a.Verb == "delete") && a.Name == node && (a.Subresource == "" || a.Subresource == "status") {
			return Allow, "", nil
		}
	case "pods":
		switch {
		case readVerbs[a.Verb] && a.Subresource == "":
			return Allow, "", nil
		case (a.Verb == "create" || a.Verb == "delete") && a.Subresource == "":
			return Allow, "", nil // mirror pods; NodeRestriction checks the binding
		case (a.Verb == "update" || a.Verb == "patch") && a.Subresource == "status":
			return n.refDecision(node, objRef{refPodsOnNode, a.Namespace, a.Name}, a)
		case a.Verb == "create" && a.Subresource == "eviction":
			return n.refDecision(node, objRef{refPodsOnNode, a.Namespace, a.Name}, a)
		}
	case "services", "endpoints":
		if readVerbs[a.Verb] && a.Subresource == "" {
			return Allow, "", nil
		}
	case "events":
		if a.Verb == "create" || a.Verb == "update" || a.Verb == "patch" {
			return Allow, "", nil
		}
	case "secrets":
		return n.readRef(node, refSecret, a)
	case "configmaps":
		return n.readRef(node, refConfigMap, a)
	case "persistentvolumeclaims":
		if a.Subresource == "" {
			return n.readRef(node, refPVC, a)
		}
	case "persistentvolumes":
		if a.Verb == "get" && a.Subresource == "" && a.Name != "" {
			if n.graph.hasVolume(node, a.Name) {
				return Allow, "", nil
			}
			return NoOpinion, noRelationship(node, a), nil
		}
	case "serviceaccounts":
		if a.Subresource == "token" && a.Verb == "create" {
			return n.refDecision(node, objRef{refSA, a.Namespace, a.Name}, a)
		}
	}
	return NoOpinion, "", nil
}

// readRef allows a named read (get, or list/watch of one object by name) of an
// object a pod on the node references.
func (n *Node) readRef(node, kind string, a Attributes) (Decision, string, error) {
	if !readVerbs[a.Verb] || a.Subresource != "" {
		return NoOpinion, "", nil
	}
	if a.Name == "" {
		return NoOpinion, fmt.Sprintf("node %q can only read individual %s", node, a.Resource), nil
	}
	return n.refDecision(node, objRef{kind, a.Namespace, a.Name}, a)
}

func (n *Node) refDecision(node string, r objRef, a Attributes) (Decision, string, error) {
	if a.Name != "" && n.graph.has(node, r) {
		return Allow, "", nil
	}
	return NoOpinion, noRelationship(node, a), nil
}

func noRelationship(node string, a Attributes) string {
	return fmt.Sprintf("no relationship found between node '%s' and this object", node)
}

// RunNodeGraph feeds graph from pod and claim informers over client until ctx
// ends; it returns once the caches have synced, so decisions made after it see
// every pod bound so far.
func RunNodeGraph(ctx context.Context, client kubernetes.Interface, graph *NodeGraph) {
	factory := informers.NewSharedInformerFactory(client, 0)
	pods := factory.Core().V1().Pods().Informer()
	pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { setPod(graph, obj) },
		UpdateFunc: func(_, obj any) { setPod(graph, obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				graph.DeletePod(p.Namespace, p.Name)
			}
		},
	})
	// Claims are followed only where the server serves them: an informer on an
	// unserved resource would never sync.
	if servesClaims(client) {
		claims := factory.Core().V1().PersistentVolumeClaims().Informer()
		claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { setClaim(graph, obj, false) },
			UpdateFunc: func(_, obj any) { setClaim(graph, obj, false) },
			DeleteFunc: func(obj any) { setClaim(graph, obj, true) },
		})
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
}

func setPod(g *NodeGraph, obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		g.SetPod(p)
	}
}

func setClaim(g *NodeGraph, obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	vol := c.Spec.VolumeName
	if deleted {
		vol = ""
	}
	g.SetClaim(c.Namespace, c.Name, vol)
}

func servesClaims(client kubernetes.Interface) bool {
	l, err := client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		return false
	}
	for _, r := range l.APIResources {
		if r.Name == "persistentvolumeclaims" {
			return true
		}
	}
	return false
}
