package statefulset

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

var bg = context.Background()

const ns = "default"

func newSet(name string, n int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(n),
			ServiceName: name + "-svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
		},
	}
}

type harness struct {
	cs      *fake.Clientset
	mu      sync.Mutex
	deleted []string
}

func start(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{cs: ctrltest.NewClientset(objs...)}
	h.cs.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		h.mu.Lock()
		h.deleted = append(h.deleted, a.(clienttesting.DeleteAction).GetName())
		h.mu.Unlock()
		return false, nil, nil
	})
	ctrltest.OptimisticLocking(h.cs, "statefulsets")
	ctrltest.OptimisticLocking(h.cs, "pods")
	f := informers.NewSharedInformerFactory(h.cs, 0)
	c := New(h.cs, f, Options{})
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 2)
	return h
}

func (h *harness) pods(t *testing.T) map[string]corev1.Pod {
	l, err := h.cs.CoreV1().Pods(ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range l.Items {
		out[p.Name] = p
	}
	return out
}

func (h *harness) names(t *testing.T) []string {
	var out []string
	for n := range h.pods(t) {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (h *harness) ready(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		p, err := h.cs.CoreV1().Pods(ns).Get(bg, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if isRunningAndReady(p) {
			continue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := h.cs.CoreV1().Pods(ns).UpdateStatus(bg, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) readyAll(t *testing.T) {
	h.ready(t, h.names(t)...)
}

func (h *harness) set(t *testing.T, name string) *appsv1.StatefulSet {
	s, err := h.cs.AppsV1().StatefulSets(ns).Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (h *harness) updateSpec(t *testing.T, name string, mut func(*appsv1.StatefulSet)) {
	for {
		s := h.set(t, name)
		mut(s)
		s.Generation++
		_, err := h.cs.AppsV1().StatefulSets(ns).Update(bg, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
}

func eq(a []string, b ...string) bool {
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

func settle() { time.Sleep(200 * time.Millisecond) }

func TestOrderedReadyCreatesInOrderAndScalesDownInReverse(t *testing.T) {
	h := start(t, newSet("web", 3))
	ctrltest.Eventually(t, 5*time.Second, "web-0", func() bool { return eq(h.names(t), "web-0") })
	settle()
	if got := h.names(t); !eq(got, "web-0") {
		t.Fatalf("pod-1 created before pod-0 was ready: %v", got)
	}
	p := h.pods(t)["web-0"]
	if p.Labels[appsv1.StatefulSetPodNameLabel] != "web-0" || p.Labels[appsv1.PodIndexLabel] != "0" ||
		p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "web-svc" || p.Labels[history.HashLabel] == "" {
		t.Fatalf("identity: labels %v hostname %q subdomain %q", p.Labels, p.Spec.Hostname, p.Spec.Subdomain)
	}
	h.ready(t, "web-0")
	ctrltest.Eventually(t, 5*time.Second, "web-1", func() bool { return eq(h.names(t), "web-0", "web-1") })
	settle()
	if got := h.names(t); !eq(got, "web-0", "web-1") {
		t.Fatalf("pod-2 created before pod-1 was ready: %v", got)
	}
	h.ready(t, "web-1")
	ctrltest.Eventually(t, 5*time.Second, "web-2", func() bool { return eq(h.names(t), "web-0", "web-1", "web-2") })
	h.ready(t, "web-2")
	ctrltest.Eventually(t, 5*time.Second, "status ready", func() bool {
		s := h.set(t, "web").Status
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.CurrentReplicas == 3 &&
			s.UpdatedReplicas == 3 && s.CurrentRevision == s.UpdateRevision && s.CurrentRevision != "" && s.ObservedGeneration == 1
	})

	h.updateSpec(t, "web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	ctrltest.Eventually(t, 5*time.Second, "scaled to 1", func() bool { return eq(h.names(t), "web-0") })
	h.mu.Lock()
	defer h.mu.Unlock()
	// A repeated delete from a lagging cache is harmless (UID precondition,
	// NotFound ignored); the order of first deletions is what matters.
	var order []string
	for _, n := range h.deleted {
		if len(order) == 0 || order[len(order)-1] != n {
			order = append(order, n)
		}
	}
	if !eq(order, "web-2", "web-1") {
		t.Fatalf("deletion order = %v, want [web-2 web-1]", h.deleted)
	}
}

func TestParallelCreatesAtOnce(t *testing.T) {
	s := newSet("db", 3)
	s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	h := start(t, s)
	ctrltest.Eventually(t, 5*time.Second, "3 pods without readiness", func() bool {
		return eq(h.names(t), "db-0", "db-1", "db-2")
	})
}

func TestOrderedScaleDownWaitsForUnhealthy(t *testing.T) {
	h := start(t, newSet("web", 3))
	for i, n := range []string{"web-0", "web-1", "web-2"} {
		ctrltest.Eventually(t, 5*time.Second, n, func() bool { return len(h.names(t)) == i+1 })
		h.ready(t, n)
	}
	// All three ready first, so "ready=2" below can only mean web-0 went unready.
	ctrltest.Eventually(t, 5*time.Second, "ready=3", func() bool { return h.set(t, "web").Status.ReadyReplicas == 3 })
	// web-0 becomes unready: scale-down must not proceed past it.
	p := h.pods(t)["web-0"]
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := h.cs.CoreV1().Pods(ns).UpdateStatus(bg, &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Let the controller see web-0 unready before it sees the scale-down.
	ctrltest.Eventually(t, 5*time.Second, "ready=2", func() bool { return h.set(t, "web").Status.ReadyReplicas == 2 })
	h.updateSpec(t, "web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	settle()
	if got := h.names(t); len(got) != 3 {
		t.Fatalf("scale-down proceeded while web-0 unhealthy: %v", got)
	}
	h.ready(t, "web-0")
	ctrltest.Eventually(t, 5*time.Second, "scaled to 1", func() bool { return eq(h.names(t), "web-0") })
}

func TestRollingUpdateWithPartition(t *testing.T) {
	h := start(t, newSet("web", 3))
	for i, n := range []string{"web-0", "web-1", "web-2"} {
		ctrltest.Eventually(t, 5*time.Second, n, func() bool { return len(h.names(t)) == i+1 })
		h.ready(t, n)
	}
	ctrltest.Eventually(t, 5*time.Second, "rev set", func() bool { return h.set(t, "web").Status.CurrentRevision != "" })
	oldRev := h.set(t, "web").Status.CurrentRevision

	h.updateSpec(t, "web", func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "img:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1)
	})
	rev := func(name string) string { return h.pods(t)[name].Labels[history.HashLabel] }
	ctrltest.Eventually(t, 5*time.Second, "web-2 updated", func() bool {
		return rev("web-2") != oldRev && rev("web-2") != "" && len(h.names(t)) == 3
	})
	newRev := rev("web-2")
	if h.pods(t)["web-2"].Spec.Containers[0].Image != "img:2" {
		t.Fatal("web-2 not at the new template")
	}
	settle()
	if rev("web-1") != oldRev {
		t.Fatal("web-1 updated before web-2 was ready")
	}
	h.ready(t, "web-2")
	ctrltest.Eventually(t, 5*time.Second, "web-1 updated", func() bool { return rev("web-1") == newRev })
	h.ready(t, "web-1")
	ctrltest.Eventually(t, 5*time.Second, "partitioned status", func() bool {
		s := h.set(t, "web").Status
		return s.UpdatedReplicas == 2 && s.CurrentReplicas == 1 && s.CurrentRevision == oldRev &&
			s.UpdateRevision == newRev && s.ReadyReplicas == 3 && s.ObservedGeneration == 2
	})
	settle()
	if rev("web-0") != oldRev {
		t.Fatal("web-0 below the partition was updated")
	}

	h.updateSpec(t, "web", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
	ctrltest.Eventually(t, 5*time.Second, "web-0 updated", func() bool { return rev("web-0") == newRev })
	h.ready(t, "web-0")
	ctrltest.Eventually(t, 5*time.Second, "rollout complete", func() bool {
		s := h.set(t, "web").Status
		return s.CurrentRevision == newRev && s.UpdatedReplicas == 3 && s.CurrentReplicas == 3
	})
	revs, _ := h.cs.AppsV1().ControllerRevisions(ns).List(bg, metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Fatalf("revisions = %d, want 2", len(revs.Items))
	}
}

func TestVolumeClaimTemplates(t *testing.T) {
	s := newSet("data", 1)
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"}}}
	h := start(t, s)
	ctrltest.Eventually(t, 5*time.Second, "pod", func() bool { return len(h.names(t)) == 1 })
	if _, err := h.cs.CoreV1().PersistentVolumeClaims(ns).Get(bg, "www-data-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("claim: %v", err)
	}
	vols := h.pods(t)["data-0"].Spec.Volumes
	if len(vols) != 1 || vols[0].PersistentVolumeClaim == nil || vols[0].PersistentVolumeClaim.ClaimName != "www-data-0" {
		t.Fatalf("volumes = %+v", vols)
	}
}
