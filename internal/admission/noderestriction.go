package admission

import (
	"context"
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/authz"
)

// NodeRestriction is upstream's admission plugin of that name: it pins what a
// kubelet's requests touch to its own node. The Node authorizer lets a node
// create pods, write Nodes and Leases at all; this plugin sees the objects and
// refuses a node that creates a pod that is not its own mirror pod, touches
// another Node or Lease, writes the status of a pod bound elsewhere, or changes
// labels kubelets may not set (node-restriction.kubernetes.io/ among them).
type NodeRestriction struct{}

// NewNodeRestriction returns the plugin.
func NewNodeRestriction() *NodeRestriction { return &NodeRestriction{} }

// Name implements Plugin.
func (*NodeRestriction) Name() string { return "NodeRestriction" }

// MirrorPodAnnotation marks a pod the kubelet publishes for a static pod.
const MirrorPodAnnotation = "kubernetes.io/config.mirror"

// Validate implements Validator.
func (*NodeRestriction) Validate(_ context.Context, a *Attributes) error {
	node := authz.NodeName(a.User)
	if node == "" {
		return nil
	}
	switch a.Resource.GroupResource() {
	case schema.GroupResource{Resource: "pods"}:
		return admitPod(node, a)
	case schema.GroupResource{Resource: "nodes"}:
		return admitNode(node, a)
	case schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		if a.Namespace == authz.NodeLeaseNamespace && leaseName(a) != node {
			return forbidden(a, "can only access node lease with the same name as the requesting node")
		}
	}
	return nil
}

func leaseName(a *Attributes) string {
	if l, ok := a.Object.(*coordinationv1.Lease); ok && l.Name != "" {
		return l.Name
	}
	return a.Name
}

func forbidden(a *Attributes, msg string) error {
	user := ""
	if a.User != nil {
		user = a.User.Name
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("node %q %s", strings.TrimPrefix(user, authz.NodeUserPrefix), msg))
}

func boundNode(obj any) string {
	if p, ok := obj.(*corev1.Pod); ok && p != nil {
		return p.Spec.NodeName
	}
	return ""
}

func admitPod(node string, a *Attributes) error {
	switch {
	case a.Operation == Create && a.Subresource == "":
		pod, ok := a.Object.(*corev1.Pod)
		if !ok {
			return nil
		}
		if _, mirror := pod.Annotations[MirrorPodAnnotation]; !mirror {
			return forbidden(a, "can only create mirror pods")
		}
		if pod.Spec.NodeName != node {
			return forbidden(a, "can only create pods with spec.nodeName set to itself")
		}
		for _, ref := range pod.OwnerReferences {
			if ref.Kind != "Node" || ref.Name != node {
				return forbidden(a, "can only create pods with an owner reference set to itself")
			}
		}
		if usesAPIObjects(pod) {
			return forbidden(a, "can not create pods that reference secrets, configmaps, service accounts or persistent volume claims")
		}
		return nil
	case a.Operation == Delete && a.Subresource == "":
		if boundNode(a.OldObject) != node {
			return forbidden(a, "can only delete pods with spec.nodeName set to itself")
		}
		return nil
	case a.Operation == Update && a.Subresource == "status":
		if boundNode(a.OldObject) != node {
			return forbidden(a, "can only update pod status for pods with spec.nodeName set to itself")
		}
		return nil
	case a.Subresource == "eviction":
		return nil // the authorizer checked the pod is bound to the node
	}
	return forbidden(a, fmt.Sprintf("cannot %s pods%s", strings.ToLower(string(a.Operation)), subPath(a.Subresource)))
}

func subPath(sub string) string {
	if sub == "" {
		return ""
	}
	return "/" + sub
}

// usesAPIObjects: a mirror pod must be runnable without the kubelet reading API
// objects for it, or a node could reach Secrets through a pod of its own making.
func usesAPIObjects(p *corev1.Pod) bool {
	// The API server names every pod's account ("default" when unset) before this
	// plugin runs; only another account is a reference the node chose.
	if (p.Spec.ServiceAccountName != "" && p.Spec.ServiceAccountName != "default") || len(p.Spec.ImagePullSecrets) > 0 {
		return true
	}
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil || v.ConfigMap != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil || v.Projected != nil {
			return true
		}
	}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil || ef.ConfigMapRef != nil {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && (e.ValueFrom.SecretKeyRef != nil || e.ValueFrom.ConfigMapKeyRef != nil) {
				return true
			}
		}
	}
	return false
}

func admitNode(node string, a *Attributes) error {
	name := a.Name
	if n, ok := a.Object.(*corev1.Node); ok && n.Name != "" {
		name = n.Name
	}
	if name != node {
		return forbidden(a, "is not allowed to modify node "+fmt.Sprintf("%q", name))
	}
	newNode, _ := a.Object.(*corev1.Node)
	oldNode, _ := a.OldObject.(*corev1.Node)
	if newNode == nil {
		return nil // delete of itself
	}
	var oldLabels map[string]string
	if oldNode != nil {
		oldLabels = oldNode.Labels
		if oldNode.Spec.ConfigSource == nil && newNode.Spec.ConfigSource != nil {
			return forbidden(a, "is not allowed to set spec.configSource")
		}
	}
	for _, key := range changedLabels(oldLabels, newNode.Labels) {
		if !KubeletMaySetLabel(key) {
			verb := "modify"
			if a.Operation == Create {
				verb = "set"
			}
			return forbidden(a, fmt.Sprintf("is not allowed to %s label %q", verb, key))
		}
	}
	return nil
}

func changedLabels(old, cur map[string]string) []string {
	var out []string
	for k, v := range cur {
		if ov, ok := old[k]; !ok || ov != v {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// kubeletLabels are the kubernetes.io/k8s.io labels a kubelet may set on its Node.
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname": true, "kubernetes.io/os": true, "kubernetes.io/arch": true,
	"beta.kubernetes.io/os": true, "beta.kubernetes.io/arch": true, "beta.kubernetes.io/instance-type": true,
	"node.kubernetes.io/instance-type":         true,
	"failure-domain.beta.kubernetes.io/region": true, "failure-domain.beta.kubernetes.io/zone": true,
	"topology.kubernetes.io/region": true, "topology.kubernetes.io/zone": true,
}

// KubeletMaySetLabel is upstream's rule: labels outside the kubernetes.io and k8s.io
// namespaces are free; inside them only the well-known node labels above and the
// kubelet.kubernetes.io/ and node.kubernetes.io/ namespaces; never anything under
// node-restriction.kubernetes.io/, which admins use to steer workloads to nodes
// that cannot label themselves into them.
func KubeletMaySetLabel(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	if prefix == "node-restriction.kubernetes.io" || strings.HasSuffix(prefix, ".node-restriction.kubernetes.io") {
		return false
	}
	reserved := prefix == "kubernetes.io" || strings.HasSuffix(prefix, ".kubernetes.io") ||
		prefix == "k8s.io" || strings.HasSuffix(prefix, ".k8s.io")
	if !reserved || kubeletLabels[key] {
		return true
	}
	for _, ns := range []string{"kubelet.kubernetes.io", "node.kubernetes.io"} {
		if prefix == ns || strings.HasSuffix(prefix, "."+ns) {
			return true
		}
	}
	return false
}
