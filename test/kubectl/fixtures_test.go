package kubectl_test

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Fixtures the tests write with client-go, standing in for components that do
// not run in the test server (kubelet, scheduler, disruption controller).

func ctx() context.Context { return context.Background() }

// createNode registers a Ready node, as a kubelet would.
func (k *kubectl) createNode(name string) *corev1.Node {
	k.t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "kubelet is posting ready status", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.9.0.7"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.0", OperatingSystem: "linux", Architecture: "amd64"},
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
				corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
				corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	out, err := k.srv.Client.CoreV1().Nodes().Create(ctx(), n, metav1.CreateOptions{})
	if err != nil {
		k.t.Fatalf("creating node %s: %v", name, err)
	}
	return out
}

// bind assigns a pod to a node through pods/binding, as the scheduler does.
func (k *kubectl) bind(pod, node string) {
	k.t.Helper()
	err := k.srv.Client.CoreV1().Pods(k.ns).Bind(ctx(), &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: k.ns},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		k.t.Fatalf("binding %s to %s: %v", pod, node, err)
	}
}

// event records an Event about an object, as a controller or kubelet would.
func (k *kubectl) event(name string, about corev1.ObjectReference, reason, message string) {
	k.t.Helper()
	ns := about.Namespace
	if ns == "" {
		ns = "default" // events about cluster-scoped objects live in default
	}
	now := metav1.NewTime(time.Now().Add(-90 * time.Second))
	_, err := k.srv.Client.CoreV1().Events(ns).Create(ctx(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name},
		InvolvedObject: about, Reason: reason, Message: message, Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "skiff-test"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil {
		k.t.Fatalf("creating event %s: %v", name, err)
	}
}

// setPDBStatus writes a PodDisruptionBudget's status through the status subresource.
// The disruption controller would compute it; it does not run in the test server.
func (k *kubectl) setPDBStatus(name string, allowed int32) {
	k.t.Helper()
	pdbs := k.srv.Client.PolicyV1().PodDisruptionBudgets(k.ns)
	pdb, err := pdbs.Get(ctx(), name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
		CurrentHealthy: 2, DesiredHealthy: 2 - allowed, ExpectedPods: 2}
	if _, err := pdbs.UpdateStatus(ctx(), pdb, metav1.UpdateOptions{}); err != nil {
		k.t.Fatalf("writing the status of pdb %s: %v", name, err)
	}
}

// podUID returns a pod's UID.
func (k *kubectl) podUID(name string) types.UID {
	k.t.Helper()
	p, err := k.srv.Client.CoreV1().Pods(k.ns).Get(ctx(), name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	return p.UID
}

// podManifest is a minimal pod; grace 0 lets bound pods go at once without a kubelet.
func podManifest(name, labels string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
  labels: {` + labels + `}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
`
}
