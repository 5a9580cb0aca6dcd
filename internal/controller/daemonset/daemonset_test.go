package daemonset

import (
	"context"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

var bg = context.Background()

func node(name string, lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
}

func newDS(name string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
	}
}

func start(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := ctrltest.NewClientset(objs...)
	ctrltest.OptimisticLocking(cs, "daemonsets")
	f := informers.NewSharedInformerFactory(cs, 0)
	c := New(cs, f, Options{})
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(f.Shutdown) // cleanups run last-first: cancel, then wait
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 2)
	return cs
}

// podNodes returns the target node of every live pod, sorted.
func podNodes(t *testing.T, cs *fake.Clientset) []string {
	l, err := cs.CoreV1().Pods("kube-system").List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range l.Items {
		out = append(out, targetNode(&l.Items[i]))
	}
	sort.Strings(out)
	return out
}

func equal(a []string, b ...string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func dsStatus(t *testing.T, cs *fake.Clientset, name string) appsv1.DaemonSetStatus {
	ds, err := cs.AppsV1().DaemonSets("kube-system").Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds.Status
}

func TestFollowsNodesComingAndGoing(t *testing.T) {
	cs := start(t, node("n1", nil), node("n2", nil), newDS("agent"))
	ctrltest.Eventually(t, 5*time.Second, "pods on n1,n2", func() bool { return equal(podNodes(t, cs), "n1", "n2") })

	l, _ := cs.CoreV1().Pods("kube-system").List(bg, metav1.ListOptions{})
	p := l.Items[0]
	if p.Spec.NodeName != "" {
		t.Fatalf("pod must be left for the scheduler, got nodeName %q", p.Spec.NodeName)
	}
	if p.Labels[history.HashLabel] == "" || p.Labels[TemplateGenerationLabel] != "1" {
		t.Fatalf("labels = %v", p.Labels)
	}
	tolerated := map[string]bool{}
	for _, tol := range p.Spec.Tolerations {
		tolerated[tol.Key+"/"+string(tol.Effect)] = true
	}
	for _, want := range []string{"node.kubernetes.io/not-ready/NoExecute", "node.kubernetes.io/unreachable/NoExecute",
		"node.kubernetes.io/disk-pressure/NoSchedule", "node.kubernetes.io/memory-pressure/NoSchedule",
		"node.kubernetes.io/pid-pressure/NoSchedule", "node.kubernetes.io/unschedulable/NoSchedule"} {
		if !tolerated[want] {
			t.Fatalf("missing default toleration %s in %v", want, p.Spec.Tolerations)
		}
	}

	if _, err := cs.CoreV1().Nodes().Create(bg, node("n3", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "pod on new node n3", func() bool { return equal(podNodes(t, cs), "n1", "n2", "n3") })
	if err := cs.CoreV1().Nodes().Delete(bg, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "pod of deleted n1 removed", func() bool { return equal(podNodes(t, cs), "n2", "n3") })
	ctrltest.Eventually(t, 5*time.Second, "status", func() bool {
		s := dsStatus(t, cs, "agent")
		return s.DesiredNumberScheduled == 2 && s.CurrentNumberScheduled == 2 && s.UpdatedNumberScheduled == 2 &&
			s.NumberMisscheduled == 0 && s.ObservedGeneration == 1 && s.NumberUnavailable == 2
	})
}

func TestSelectorAndTaints(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
	cs := start(t, ds,
		node("worker", map[string]string{"role": "worker"}),
		node("control", map[string]string{"role": "control"}),
		node("tainted", map[string]string{"role": "worker"}, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}),
		// Default tolerations cover a not-ready node.
		node("notready", map[string]string{"role": "worker"}, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}),
	)
	ctrltest.Eventually(t, 5*time.Second, "pods on worker and notready only", func() bool {
		return equal(podNodes(t, cs), "notready", "worker")
	})
	time.Sleep(100 * time.Millisecond)
	if got := podNodes(t, cs); !equal(got, "notready", "worker") {
		t.Fatalf("pods on %v", got)
	}

	// A new NoSchedule taint keeps the running pod; a NoExecute one evicts it.
	setTaints(t, cs, "worker", corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule})
	time.Sleep(200 * time.Millisecond)
	if got := podNodes(t, cs); !equal(got, "notready", "worker") {
		t.Fatalf("NoSchedule taint must not evict: pods on %v", got)
	}
	ctrltest.Eventually(t, 5*time.Second, "misscheduled 0, desired 1", func() bool {
		s := dsStatus(t, cs, "agent")
		return s.DesiredNumberScheduled == 1 && s.NumberMisscheduled == 1
	})
	setTaints(t, cs, "worker", corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})
	ctrltest.Eventually(t, 5*time.Second, "NoExecute evicts", func() bool { return equal(podNodes(t, cs), "notready") })

	// Relabelling the control node makes it eligible.
	n, _ := cs.CoreV1().Nodes().Get(bg, "control", metav1.GetOptions{})
	n.Labels["role"] = "worker"
	if _, err := cs.CoreV1().Nodes().Update(bg, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "pod on relabelled node", func() bool { return equal(podNodes(t, cs), "control", "notready") })
}

func setTaints(t *testing.T, cs *fake.Clientset, name string, taints ...corev1.Taint) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = taints
	if _, err := cs.CoreV1().Nodes().Update(bg, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func markAllReady(t *testing.T, cs *fake.Clientset) {
	l, _ := cs.CoreV1().Pods("kube-system").List(bg, metav1.ListOptions{})
	for _, p := range l.Items {
		if len(p.Status.Conditions) > 0 {
			continue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := cs.CoreV1().Pods("kube-system").UpdateStatus(bg, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func hashes(t *testing.T, cs *fake.Clientset) map[string]int {
	l, _ := cs.CoreV1().Pods("kube-system").List(bg, metav1.ListOptions{})
	out := map[string]int{}
	for _, p := range l.Items {
		out[p.Labels[history.HashLabel]]++
	}
	return out
}

func TestRollingUpdateRespectsMaxUnavailable(t *testing.T) {
	ds := newDS("agent")
	mu := intstr.FromInt32(1)
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &mu}
	cs := start(t, ds, node("n1", nil), node("n2", nil), node("n3", nil))
	ctrltest.Eventually(t, 5*time.Second, "3 pods", func() bool { return len(podNodes(t, cs)) == 3 })
	markAllReady(t, cs)
	ctrltest.Eventually(t, 5*time.Second, "all available", func() bool { return dsStatus(t, cs, "agent").NumberAvailable == 3 })
	oldHash := ""
	for h := range hashes(t, cs) {
		oldHash = h
	}

	setImage(t, cs, "img:2")
	ctrltest.Eventually(t, 5*time.Second, "one node updated", func() bool {
		h := hashes(t, cs)
		return h[oldHash] == 2 && len(h) == 2 && len(podNodes(t, cs)) == 3
	})
	// The new pod is not ready: the rollout must stop at one unavailable node.
	time.Sleep(300 * time.Millisecond)
	if h := hashes(t, cs); h[oldHash] != 2 {
		t.Fatalf("rollout went past maxUnavailable=1: %v", h)
	}
	ctrltest.Eventually(t, 10*time.Second, "rollout completes as pods become ready", func() bool {
		markAllReady(t, cs)
		h := hashes(t, cs)
		return h[oldHash] == 0 && len(podNodes(t, cs)) == 3
	})
	ctrltest.Eventually(t, 5*time.Second, "status says rolled out", func() bool {
		markAllReady(t, cs)
		s := dsStatus(t, cs, "agent")
		return s.UpdatedNumberScheduled == 3 && s.NumberAvailable == 3 && s.ObservedGeneration == 2
	})
	revs, _ := cs.AppsV1().ControllerRevisions("kube-system").List(bg, metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Fatalf("controller revisions = %d, want 2", len(revs.Items))
	}
}

func TestOnDeleteLeavesOldPods(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	cs := start(t, ds, node("n1", nil))
	ctrltest.Eventually(t, 5*time.Second, "1 pod", func() bool { return len(podNodes(t, cs)) == 1 })
	setImage(t, cs, "img:2")
	ctrltest.Eventually(t, 5*time.Second, "observed", func() bool { return dsStatus(t, cs, "agent").ObservedGeneration == 2 })
	if s := dsStatus(t, cs, "agent"); s.UpdatedNumberScheduled != 0 {
		t.Fatalf("OnDelete must not replace pods: %+v", s)
	}
	l, _ := cs.CoreV1().Pods("kube-system").List(bg, metav1.ListOptions{})
	_ = cs.CoreV1().Pods("kube-system").Delete(bg, l.Items[0].Name, metav1.DeleteOptions{})
	ctrltest.Eventually(t, 5*time.Second, "recreated at new revision", func() bool {
		return dsStatus(t, cs, "agent").UpdatedNumberScheduled == 1
	})
}

// setImage changes the template image and bumps generation, retrying on
// conflicts with the controller's status writes.
func setImage(t *testing.T, cs *fake.Clientset, image string) {
	t.Helper()
	for {
		cur, err := cs.AppsV1().DaemonSets("kube-system").Get(bg, "agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Spec.Template.Spec.Containers[0].Image = image
		cur.Generation++
		_, err = cs.AppsV1().DaemonSets("kube-system").Update(bg, cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
}
