package authz

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

func nodeUser(name string) *auth.User {
	return &auth.User{Name: NodeUserPrefix + name, Groups: []string{NodesGroup, "system:authenticated"}}
}

func res(u *auth.User, verb, group, resource, sub, ns, name string) Attributes {
	return Attributes{User: u, Verb: verb, ResourceRequest: true, APIGroup: group, APIVersion: "v1",
		Resource: resource, Subresource: sub, Namespace: ns, Name: name}
}

func TestNodeAuthorizer(t *testing.T) {
	g := NewNodeGraph()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "app"}, Spec: corev1.PodSpec{
		NodeName: "a", ServiceAccountName: "web-sa",
		Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
			{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
			{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}}}}}},
		},
		Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-secret"}, Key: "k"}}}}}},
	}}
	g.SetPod(pod)
	g.SetClaim("app", "data", "pv-1")
	g.SetPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "app"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "unbound-secret"}}}}}})
	z := NewNode(g)
	a, b := nodeUser("a"), nodeUser("b")
	cases := []struct {
		name string
		attr Attributes
		want Decision
	}{
		{"own pod's volume secret", res(a, "get", "", "secrets", "", "app", "vol-secret"), Allow},
		{"own pod's env secret", res(a, "get", "", "secrets", "", "app", "env-secret"), Allow},
		{"projected configmap", res(a, "get", "", "configmaps", "", "app", "proj-cm"), Allow},
		{"claim", res(a, "get", "", "persistentvolumeclaims", "", "app", "data"), Allow},
		{"claim's volume", res(a, "get", "", "persistentvolumes", "", "", "pv-1"), Allow},
		{"other volume", res(a, "get", "", "persistentvolumes", "", "", "pv-2"), NoOpinion},
		{"sa token of own pod", res(a, "create", "", "serviceaccounts", "token", "app", "web-sa"), Allow},
		{"sa token of another sa", res(a, "create", "", "serviceaccounts", "token", "app", "admin"), NoOpinion},
		{"unreferenced secret", res(a, "get", "", "secrets", "", "app", "other"), NoOpinion},
		{"secret of an unbound pod", res(a, "get", "", "secrets", "", "app", "unbound-secret"), NoOpinion},
		{"other node's pod's secret", res(b, "get", "", "secrets", "", "app", "vol-secret"), NoOpinion},
		{"list all secrets", res(a, "list", "", "secrets", "", "app", ""), NoOpinion},
		{"update a referenced secret", res(a, "update", "", "secrets", "", "app", "vol-secret"), NoOpinion},
		{"own node status", res(a, "patch", "", "nodes", "status", "", "a"), Allow},
		{"own node", res(a, "update", "", "nodes", "", "", "a"), Allow},
		{"other node", res(a, "patch", "", "nodes", "", "", "b"), NoOpinion},
		{"other node status", res(a, "update", "", "nodes", "status", "", "b"), NoOpinion},
		{"list nodes", res(a, "list", "", "nodes", "", "", ""), Allow},
		{"own lease", res(a, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "a"), Allow},
		{"other lease", res(a, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "b"), NoOpinion},
		{"lease elsewhere", res(a, "update", "coordination.k8s.io", "leases", "", "kube-system", "a"), NoOpinion},
		{"own pod status", res(a, "patch", "", "pods", "status", "app", "web"), Allow},
		{"other node's pod status", res(b, "patch", "", "pods", "status", "app", "web"), NoOpinion},
		{"watch pods", res(a, "watch", "", "pods", "", "", ""), Allow},
		{"exec", res(a, "create", "", "pods", "exec", "app", "web"), NoOpinion},
		{"services", res(a, "list", "", "services", "", "", ""), Allow},
		{"events", res(a, "create", "", "events", "", "app", ""), Allow},
		{"csr", res(a, "create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), Allow},
		{"rbac", res(a, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", ""), NoOpinion},
		{"not a node", res(&auth.User{Name: "system:node:a"}, "get", "", "secrets", "", "app", "vol-secret"), NoOpinion},
	}
	for _, c := range cases {
		if d, _, _ := z.Authorize(context.Background(), c.attr); d != c.want {
			t.Errorf("%s: %v, want %v", c.name, d, c.want)
		}
	}
	// The pod leaves the node: its references go with it.
	g.DeletePod("app", "web")
	if d, _, _ := z.Authorize(context.Background(), res(a, "get", "", "secrets", "", "app", "vol-secret")); d != NoOpinion {
		t.Errorf("after the pod was deleted: %v", d)
	}
	// Rebinding a pod moves its references.
	pod.Spec.NodeName = "b"
	g.SetPod(pod)
	if d, _, _ := z.Authorize(context.Background(), res(b, "get", "", "secrets", "", "app", "vol-secret")); d != Allow {
		t.Errorf("after binding to b: %v", d)
	}
}

func BenchmarkNodeAuthorizer(b *testing.B) {
	g := NewNodeGraph()
	for i := range 10000 {
		g.SetPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p" + string(rune('a'+i%26)) + string(rune(i)), Namespace: "ns"},
			Spec: corev1.PodSpec{NodeName: "n", Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}}})
	}
	z := NewNode(g)
	attr := res(nodeUser("n"), "get", "", "secrets", "", "ns", "s")
	b.ResetTimer()
	for range b.N {
		z.Authorize(context.Background(), attr)
	}
}
