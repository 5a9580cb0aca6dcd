package integration

import (
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testbin"
	"github.com/skiff-sh/skiff/internal/testserver"
)

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

func taint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

func getNode(t *testing.T, c kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNodeLifecycleEvictsFromSilentNode: a node whose Lease stops being renewed
// turns Ready=Unknown after the grace period (4 s here) with the unreachable
// taints; its pods are evicted once their 2 s toleration runs out and their
// ReplicaSet recreates them on the healthy node; when the node comes back its
// taints go.
func TestNodeLifecycleEvictsFromSilentNode(t *testing.T) {
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	const grace = 4 * time.Second
	mustCreateNodes(t, c, node("bad", "10", nil))
	kl := startFakeKubelet(t, s, "bad", "good")
	startScheduler(t, s, scheduler.Options{})
	startControllerManager(t, s, controllermanager.Options{NodeMonitorPeriod: time.Second, NodeMonitorGracePeriod: grace})

	tmpl := pauseTemplate("evictee")
	tmpl.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(2))}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "evictee"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "evictee"}}, Template: tmpl}}
	if _, err := c.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// All three land on "bad", the only node; then the healthy node joins.
	runningOn := func(node string) (int, []corev1.Pod) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=evictee"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range l.Items {
			if p.Spec.NodeName == node && p.DeletionTimestamp == nil && podReady(&p) {
				n++
			}
		}
		return n, l.Items
	}
	eventually(t, 20*time.Second, "3 pods running on bad", func() (bool, error) { n, _ := runningOn("bad"); return n == 3, nil })
	_, victims := runningOn("bad")
	mustCreateNodes(t, c, node("good", "10", nil))

	// Healthy while the heartbeat goes on (several grace periods' worth of passes).
	time.Sleep(grace + 2*time.Second)
	if n := getNode(t, c, "bad"); nodeReady(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
		t.Fatalf("heartbeating node: Ready=%s taints %v", nodeReady(n), n.Spec.Taints)
	}

	kl.setAlive("bad", false)
	silent := time.Now()
	var unknownAt time.Time
	eventually(t, grace+5*time.Second, "bad Ready=Unknown with the unreachable NoExecute taint", func() (bool, error) {
		n := getNode(t, c, "bad")
		if nodeReady(n) == corev1.ConditionUnknown && unknownAt.IsZero() {
			unknownAt = time.Now()
		}
		return nodeReady(n) == corev1.ConditionUnknown && taint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil &&
			taint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) != nil, nil
	})
	// The last renewal was at most 0.5 s before "silent"; Unknown must come after the grace period, within a monitor period or so.
	if d := unknownAt.Sub(silent); d < grace-time.Second || d > grace+3*time.Second {
		t.Fatalf("node turned Unknown %v after its last heartbeat, want about %v", d, grace)
	}
	n := getNode(t, c, "bad")
	if te := taint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute); te.TimeAdded == nil {
		t.Fatalf("NoExecute taint without timeAdded: %+v", te)
	}

	// Evicted after the 2 s toleration, replaced on "good".
	eventually(t, 15*time.Second, "3 replacement pods running on good", func() (bool, error) { n, _ := runningOn("good"); return n == 3, nil })
	for _, v := range victims {
		p, err := c.CoreV1().Pods("default").Get(ctx, v.Name, metav1.GetOptions{})
		if err != nil {
			continue // already gone is fine
		}
		if p.DeletionTimestamp == nil {
			t.Fatalf("pod %s on the silent node was not evicted", p.Name)
		}
		if podReady(p) {
			t.Fatalf("pod %s on the silent node still Ready", p.Name)
		}
	}
	cur, err := c.AppsV1().ReplicaSets("default").Get(ctx, "evictee", metav1.GetOptions{})
	if err != nil || cur.Status.Replicas != 3 {
		t.Fatalf("ReplicaSet status after evictions: %+v (%v)", cur.Status, err)
	}
	evictedAfter := time.Since(silent)
	t.Logf("Unknown after %v, replacements running %v after the heartbeats stopped", unknownAt.Sub(silent).Round(100*time.Millisecond), evictedAfter.Round(100*time.Millisecond))
	// The taint's timeAdded has whole-second precision, so the 2 s toleration can
	// end up to 1 s early (and unknownAt is seen by polling): allow 1.5 s, which
	// still tells a tolerated eviction from an immediate one.
	if earliest := unknownAt.Sub(silent) + 500*time.Millisecond; evictedAfter < earliest {
		t.Fatalf("pods replaced %v after silence: before Unknown (%v) + tolerationSeconds", evictedAfter, unknownAt.Sub(silent))
	}

	// The node comes back: its taints go, and the terminating pods finish.
	kl.setAlive("bad", true)
	eventually(t, 10*time.Second, "bad back without taints", func() (bool, error) {
		n := getNode(t, c, "bad")
		return nodeReady(n) == corev1.ConditionTrue && len(n.Spec.Taints) == 0, nil
	})
	eventually(t, 10*time.Second, "evicted pods gone", func() (bool, error) {
		_, all := runningOn("good")
		return len(all) == 3, nil
	})
}

// TestNodeLifecycleDefaults checks the seed's timings when nothing is set: the
// CLI flags default to a 5 s monitor period and a 40 s grace period, and the
// in-process defaults (zero Options) behave the same: a silent node is still
// Ready 35 s after its last sign of life and Unknown within 40 s + one period.
// Pods get the 300 s not-ready/unreachable tolerations at admission.
func TestNodeLifecycleDefaults(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(testbin.Path(t), "controller-manager", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("controller-manager --help: %v\n%s", err, out)
	}
	for _, re := range []string{`--node-monitor-period duration\s+.*\(default 5s\)`, `--node-monitor-grace-period duration\s+.*\(default 40s\)`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Fatalf("controller-manager --help lacks %s:\n%s", re, out)
		}
	}

	s := testserver.Start(t)
	c := s.Client
	ctx := context.Background()

	// Admission adds the default NoExecute tolerations, and keeps a user's own.
	p := podWithCPU("tol", "10m")
	own := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(7))}
	p.Spec.Tolerations = []corev1.Toleration{own}
	if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, podWithCPU("plain", "10m"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plain, err := c.CoreV1().Pods("default").Get(ctx, "plain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		found := false
		for _, tol := range plain.Spec.Tolerations {
			if tol.Key == key && tol.Operator == corev1.TolerationOpExists && tol.Effect == corev1.TaintEffectNoExecute &&
				tol.TolerationSeconds != nil && *tol.TolerationSeconds == 300 {
				found = true
			}
		}
		if !found {
			t.Fatalf("pod tolerations %+v lack %s:NoExecute for 300s", plain.Spec.Tolerations, key)
		}
	}
	withOwn, _ := c.CoreV1().Pods("default").Get(ctx, "tol", metav1.GetOptions{})
	if len(withOwn.Spec.Tolerations) != 2 || *withOwn.Spec.Tolerations[0].TolerationSeconds != 7 || withOwn.Spec.Tolerations[1].Key != corev1.TaintNodeNotReady {
		t.Fatalf("pod with its own unreachable toleration got %+v", withOwn.Spec.Tolerations)
	}

	// A node with one Lease renewal, then silence.
	mustCreateNodes(t, c, node("quiet", "1", nil))
	now := metav1.NewMicroTime(time.Now())
	holder := "quiet"
	if _, err := c.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "quiet"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &now}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	last := now.Time
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"nodelifecycle"}})
	time.Sleep(time.Until(last.Add(35 * time.Second)))
	if n := getNode(t, c, "quiet"); nodeReady(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
		t.Fatalf("35 s after the last heartbeat: Ready=%s taints %v (grace period shorter than 40 s?)", nodeReady(n), n.Spec.Taints)
	}
	eventually(t, 15*time.Second, "quiet Ready=Unknown", func() (bool, error) {
		return nodeReady(getNode(t, c, "quiet")) == corev1.ConditionUnknown, nil
	})
	if d := time.Since(last); d > 40*time.Second+5*time.Second+time.Second {
		t.Fatalf("Unknown only %v after the last heartbeat: want ≤ 40 s grace + 5 s period", d)
	}
	t.Logf("Unknown %v after the last heartbeat", time.Since(last).Round(100*time.Millisecond))
}
