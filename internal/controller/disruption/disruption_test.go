package disruption

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

const ns = "default"

var bg = context.Background()

func pod(name string, ready bool, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func ctrlRef(kind, name string, uid types.UID) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

func pdb(name string, minA, maxU *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minA, MaxUnavailable: maxU,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func start(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	cs := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(cs, 0)
	c := New(cs, f, Options{})
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	return cs
}

func status(t *testing.T, cs *fake.Clientset, name string) policyv1.PodDisruptionBudgetStatus {
	p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Status
}

func TestMaxUnavailableUsesDeploymentScale(t *testing.T) {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: "dep-uid"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: ns, UID: "rs-uid",
		OwnerReferences: []metav1.OwnerReference{*ctrlRef("Deployment", "web", "dep-uid")}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3)}}
	ref := ctrlRef("ReplicaSet", "web-abc", "rs-uid")
	one := intstr.FromInt32(1)
	cs := start(t, dep, rs, pod("a", true, ref), pod("b", true, ref), pod("c", false, ref), pdb("budget", nil, &one))

	ctrltest.Eventually(t, 5*time.Second, "insufficient", func() bool {
		s := status(t, cs, "budget")
		c := meta.FindStatusCondition(s.Conditions, policyv1.DisruptionAllowedCondition)
		return s.ExpectedPods == 3 && s.DesiredHealthy == 2 && s.CurrentHealthy == 2 && s.DisruptionsAllowed == 0 &&
			s.ObservedGeneration == 1 && c != nil && c.Status == metav1.ConditionFalse && c.Reason == policyv1.InsufficientPodsReason
	})
	p, _ := cs.CoreV1().Pods(ns).Get(bg, "c", metav1.GetOptions{})
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(bg, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "one disruption allowed", func() bool {
		s := status(t, cs, "budget")
		c := meta.FindStatusCondition(s.Conditions, policyv1.DisruptionAllowedCondition)
		return s.CurrentHealthy == 3 && s.DisruptionsAllowed == 1 && c.Status == metav1.ConditionTrue && c.Reason == policyv1.SufficientPodsReason
	})
	// Scaling the Deployment up raises expectedPods and removes the slack.
	dep.Spec.Replicas = ptr.To[int32](5)
	if _, err := cs.AppsV1().Deployments(ns).Update(bg, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "scaled", func() bool {
		s := status(t, cs, "budget")
		return s.ExpectedPods == 5 && s.DesiredHealthy == 4 && s.DisruptionsAllowed == 0
	})
}

func TestMinAvailable(t *testing.T) {
	two := intstr.FromInt32(2)
	half := intstr.FromString("50%")
	cs := start(t, pod("a", true, nil), pod("b", true, nil), pod("c", true, nil),
		pdb("int", &two, nil), pdb("pct", &half, nil))
	ctrltest.Eventually(t, 5*time.Second, "int", func() bool {
		s := status(t, cs, "int")
		return s.ExpectedPods == 3 && s.DesiredHealthy == 2 && s.DisruptionsAllowed == 1
	})
	ctrltest.Eventually(t, 5*time.Second, "pct rounds up", func() bool {
		s := status(t, cs, "pct")
		return s.ExpectedPods == 3 && s.DesiredHealthy == 2 && s.DisruptionsAllowed == 1
	})
}

func TestDisruptedPodsPruned(t *testing.T) {
	zero := intstr.FromInt32(0)
	b := pdb("budget", &zero, nil)
	now := time.Now()
	b.Status.DisruptedPods = map[string]metav1.Time{
		"a":    metav1.NewTime(now.Add(-10 * time.Second)), // eviction in flight
		"b":    metav1.NewTime(now.Add(-3 * time.Minute)),  // too old: eviction did not happen
		"gone": metav1.NewTime(now),                        // pod already deleted
	}
	cs := start(t, pod("a", true, nil), pod("b", true, nil), b)
	ctrltest.Eventually(t, 5*time.Second, "pruned", func() bool {
		s := status(t, cs, "budget")
		_, keptA := s.DisruptedPods["a"]
		return len(s.DisruptedPods) == 1 && keptA && s.CurrentHealthy == 1 && s.DisruptionsAllowed == 1
	})
}
