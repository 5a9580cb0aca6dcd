package nodelifecycle

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *testingclock.FakeClock
	c      *Controller
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	h := &harness{t: t, client: ctrltest.NewClientset(objs...), clock: testingclock.NewFakeClock(t0)}
	f := informers.NewSharedInformerFactory(h.client, 0)
	opts := Options{}
	opts.Clock = h.clock
	h.c = New(h.client, f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	go func() { // the queue must shut down with ctx, as Run does
		<-ctx.Done()
		h.c.evictions.Queue.ShutDown()
	}()
	return h
}

func readyNode(name string, hb time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(hb), Reason: "KubeletReady"},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(hb)},
		}},
	}
}

func lease(node string, renew time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: NodeLeaseNamespace},
		Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: renew}}}
}

func pod(name, node string, tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tols},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
}

func (h *harness) node(name string) *corev1.Node {
	n, err := h.client.CoreV1().Nodes().Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) podExists(name string) bool {
	_, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		h.t.Fatal(err)
	}
	return err == nil
}

func (h *harness) monitor() {
	h.t.Helper()
	if err := h.c.MonitorNodes(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// settleNode waits for the informer to see the node as the API has it.
func (h *harness) settleNode(name string) {
	ctrltest.Eventually(h.t, 5*time.Second, "node cache", func() bool {
		c, err := h.c.nodeLister.Get(name)
		return err == nil && c.ResourceVersion == h.node(name).ResourceVersion
	})
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func TestSilentNodeGoesUnknownTaintedAndEvicts(t *testing.T) {
	tolerate300 := corev1.Toleration{Key: TaintUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	forever := corev1.Toleration{Operator: corev1.TolerationOpExists}
	h := newHarness(t, readyNode("n1", t0), lease("n1", t0),
		pod("plain", "n1"), pod("tol300", "n1", tolerate300), pod("forever", "n1", forever))

	h.clock.Step(30 * time.Second)
	h.monitor()
	if n := h.node("n1"); len(n.Spec.Taints) != 0 || condition(n, corev1.NodeReady).Status != corev1.ConditionTrue {
		t.Fatalf("node healthy within grace period changed: %+v", n.Spec.Taints)
	}

	h.clock.Step(15 * time.Second) // 45s silent > 40s grace
	h.monitor()
	n := h.node("n1")
	for _, c := range n.Status.Conditions {
		if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
			t.Fatalf("condition %s = %s/%s, want Unknown/NodeStatusUnknown", c.Type, c.Status, c.Reason)
		}
	}
	if !hasTaint(n, TaintUnreachable, corev1.TaintEffectNoExecute) || !hasTaint(n, TaintUnreachable, corev1.TaintEffectNoSchedule) {
		t.Fatalf("taints = %+v, want unreachable NoExecute+NoSchedule", n.Spec.Taints)
	}
	p, _ := h.client.CoreV1().Pods("default").Get(h.ctx, "forever", metav1.GetOptions{})
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			t.Fatal("pod on unreachable node still Ready")
		}
	}

	h.settleNode("n1")
	ctrltest.Eventually(t, 5*time.Second, "intolerant pod evicted", func() bool {
		h.c.evictions.Drain(h.ctx)
		return !h.podExists("plain")
	})
	if !h.podExists("tol300") || !h.podExists("forever") {
		t.Fatal("tolerating pods evicted too early")
	}

	h.clock.Step(299 * time.Second)
	h.c.evictions.Drain(h.ctx)
	if !h.podExists("tol300") {
		t.Fatal("pod evicted before tolerationSeconds")
	}
	h.clock.Step(2 * time.Second)
	ctrltest.Eventually(t, 5*time.Second, "pod evicted after tolerationSeconds", func() bool {
		h.c.evictions.Drain(h.ctx)
		return !h.podExists("tol300")
	})
	if !h.podExists("forever") {
		t.Fatal("pod tolerating forever was evicted")
	}

	// The kubelet comes back: taints go away.
	n = h.node("n1")
	now := metav1.NewTime(h.clock.Now())
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: now}}
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.settleNode("n1")
	h.monitor()
	if n := h.node("n1"); len(n.Spec.Taints) != 0 {
		t.Fatalf("taints after recovery: %+v", n.Spec.Taints)
	}
}

func TestLeaseKeepsNodeAlive(t *testing.T) {
	// The Ready heartbeat is old (kubelets update status rarely), the Lease is fresh.
	h := newHarness(t, readyNode("n1", t0.Add(-5*time.Minute)), lease("n1", t0))
	h.monitor()
	if n := h.node("n1"); condition(n, corev1.NodeReady).Status != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
		t.Fatal("node with a fresh lease was marked unhealthy")
	}
}

func TestNotReadyTaints(t *testing.T) {
	n := readyNode("n1", t0)
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	n.Spec.Unschedulable = true
	user := corev1.Taint{Key: "user", Effect: corev1.TaintEffectNoSchedule}
	n.Spec.Taints = []corev1.Taint{user}
	h := newHarness(t, n, lease("n1", t0))
	h.monitor()
	got := h.node("n1")
	for _, want := range []corev1.Taint{
		{Key: TaintNotReady, Effect: corev1.TaintEffectNoExecute}, {Key: TaintNotReady, Effect: corev1.TaintEffectNoSchedule},
		{Key: TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule}, user,
	} {
		if !hasTaint(got, want.Key, want.Effect) {
			t.Fatalf("missing %s:%s in %+v", want.Key, want.Effect, got.Spec.Taints)
		}
	}
}

func TestZoneDisruptionRateLimitsTainting(t *testing.T) {
	var objs []runtime.Object
	for _, name := range []string{"a", "b", "c", "d"} {
		objs = append(objs, readyNode(name, t0.Add(-time.Hour))) // all silent: 100% unhealthy
	}
	h := newHarness(t, objs...)
	h.monitor()
	tainted := 0
	for _, name := range []string{"a", "b", "c", "d"} {
		if hasTaint(h.node(name), TaintUnreachable, corev1.TaintEffectNoExecute) {
			tainted++
		}
	}
	if tainted != 1 {
		t.Fatalf("%d nodes NoExecute-tainted in one pass of a disrupted zone, want 1 (token bucket)", tainted)
	}
}
