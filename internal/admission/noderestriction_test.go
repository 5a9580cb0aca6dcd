package admission

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	leasesGVR = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

func kubelet(name string) *auth.User {
	return &auth.User{Name: "system:node:" + name, Groups: []string{"system:nodes", "system:authenticated"}}
}

func pod(node string, mirror bool, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "default"}}
	if mirror {
		p.Annotations = map[string]string{MirrorPodAnnotation: "hash"}
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestNodeRestriction(t *testing.T) {
	a := kubelet("a")
	cases := []struct {
		name  string
		attr  Attributes
		allow bool
	}{
		{"own mirror pod", Attributes{Operation: Create, Resource: podsGVR, User: a, Object: pod("a", true)}, true},
		{"mirror pod for another node", Attributes{Operation: Create, Resource: podsGVR, User: a, Object: pod("b", true)}, false},
		{"a regular pod", Attributes{Operation: Create, Resource: podsGVR, User: a, Object: pod("a", false)}, false},
		{"mirror pod mounting a secret", Attributes{Operation: Create, Resource: podsGVR, User: a, Object: pod("a", true, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}}}
		})}, false},
		{"mirror pod with another service account", Attributes{Operation: Create, Resource: podsGVR, User: a, Object: pod("a", true, func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "admin"
		})}, false},
		{"status of own pod", Attributes{Operation: Update, Resource: podsGVR, Subresource: "status", User: a, Object: pod("a", false), OldObject: pod("a", false)}, true},
		{"status of another node's pod", Attributes{Operation: Update, Resource: podsGVR, Subresource: "status", User: a, Object: pod("a", false), OldObject: pod("b", false)}, false},
		{"update a pod's spec", Attributes{Operation: Update, Resource: podsGVR, User: a, Object: pod("a", false), OldObject: pod("a", false)}, false},
		{"delete own pod", Attributes{Operation: Delete, Resource: podsGVR, User: a, OldObject: pod("a", false)}, true},
		{"delete another node's pod", Attributes{Operation: Delete, Resource: podsGVR, User: a, OldObject: pod("b", false)}, false},
		{"register itself", Attributes{Operation: Create, Resource: nodesGVR, User: a, Object: node("a", map[string]string{"kubernetes.io/hostname": "a", "example.com/x": "1"})}, true},
		{"register another", Attributes{Operation: Create, Resource: nodesGVR, User: a, Object: node("b", nil)}, false},
		{"update itself", Attributes{Operation: Update, Resource: nodesGVR, Name: "a", User: a, Object: node("a", nil), OldObject: node("a", nil)}, true},
		{"update another", Attributes{Operation: Update, Resource: nodesGVR, Name: "b", User: a, Object: node("b", nil), OldObject: node("b", nil)}, false},
		{"status of another", Attributes{Operation: Update, Resource: nodesGVR, Subresource: "status", Name: "b", User: a, Object: node("b", nil), OldObject: node("b", nil)}, false},
		{"set a node-restriction label", Attributes{Operation: Update, Resource: nodesGVR, Name: "a", User: a,
			Object: node("a", map[string]string{"node-restriction.kubernetes.io/secure": "true"}), OldObject: node("a", nil)}, false},
		{"remove a node-restriction label", Attributes{Operation: Update, Resource: nodesGVR, Name: "a", User: a,
			Object: node("a", nil), OldObject: node("a", map[string]string{"node-restriction.kubernetes.io/secure": "true"})}, false},
		{"set a role label", Attributes{Operation: Update, Resource: nodesGVR, Name: "a", User: a,
			Object: node("a", map[string]string{"node-role.kubernetes.io/control-plane": ""}), OldObject: node("a", nil)}, false},
		{"set a node.kubernetes.io label", Attributes{Operation: Update, Resource: nodesGVR, Name: "a", User: a,
			Object: node("a", map[string]string{"node.kubernetes.io/exclude-from-external-load-balancers": ""}), OldObject: node("a", nil)}, true},
		{"keep an admin's restricted label", Attributes{Operation: Update, Resource: nodesGVR, Subresource: "status", Name: "a", User: a,
			Object: node("a", map[string]string{"node-restriction.kubernetes.io/secure": "true"}), OldObject: node("a", map[string]string{"node-restriction.kubernetes.io/secure": "true"})}, true},
		{"own lease", Attributes{Operation: Update, Resource: leasesGVR, Namespace: "kube-node-lease", Name: "a", User: a,
			Object: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, true},
		{"another lease", Attributes{Operation: Create, Resource: leasesGVR, Namespace: "kube-node-lease", User: a,
			Object: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "b"}}}, false},
		{"not a node", Attributes{Operation: Create, Resource: podsGVR, User: &auth.User{Name: "alice"}, Object: pod("b", false)}, true},
	}
	chain := Chain{NewNodeRestriction()}
	for _, c := range cases {
		attr := c.attr
		err := chain.Validate(context.Background(), &attr)
		if c.allow && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.allow && !apierrors.IsForbidden(err) {
			t.Errorf("%s: want Forbidden, got %v", c.name, err)
		}
	}
}
