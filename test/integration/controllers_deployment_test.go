package integration

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testbin"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// availability follows a watch on a deployment's pods and records, after
// arm(), the fewest available (Ready, not terminating) and the most existing
// (not terminating) pods ever seen at once.
type availability struct {
	mu       sync.Mutex
	pods     map[types.UID]*corev1.Pod
	armed    bool
	minAvail int
	maxTotal int
	samples  int
	done     chan struct{}
}

func watchAvailability(t *testing.T, c kubernetes.Interface, ns, selector string) *availability {
	t.Helper()
	w, err := c.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	a := &availability{pods: map[types.UID]*corev1.Pod{}, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			a.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(a.pods, p.UID)
			} else {
				a.pods[p.UID] = p
			}
			a.sampleLocked()
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.Stop(); <-a.done })
	return a
}

func (a *availability) sampleLocked() {
	avail, total := 0, 0
	for _, p := range a.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if podReady(p) {
			avail++
		}
	}
	if !a.armed {
		return
	}
	a.samples++
	a.minAvail = min(a.minAvail, avail)
	a.maxTotal = max(a.maxTotal, total)
}

// arm starts recording from the current state.
func (a *availability) arm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.armed, a.minAvail, a.maxTotal, a.samples = true, 1<<30, 0, 0
	a.sampleLocked()
}

func (a *availability) result() (minAvail, maxTotal, samples int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.minAvail, a.maxTotal, a.samples
}

func kubectl(t *testing.T, s *testserver.Server, args ...string) string {
	t.Helper()
	cmd := exec.Command(testbin.Path(t), append([]string{"kubectl", "--kubeconfig", s.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitRolledOut waits until the deployment's current generation is fully
// rolled out with every pod on image.
func waitRolledOut(t *testing.T, c kubernetes.Interface, name, image string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	eventually(t, 60*time.Second, "deployment "+name+" rolled out with "+image, func() (bool, error) {
		var err error
		d, err = c.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st, want := d.Status, *d.Spec.Replicas
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != want || st.Replicas != want || st.AvailableReplicas != want {
			return false, nil
		}
		pods, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err
		}
		n := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				return false, nil
			}
			if p.Spec.Containers[0].Image != image || !podReady(&p) {
				return false, nil
			}
			n++
		}
		return n == int(want), nil
	})
	return d
}

// TestDeploymentRollingUpdate rolls a 10-replica deployment (maxUnavailable 2,
// maxSurge 2) forward, back with `kubectl rollout undo`, and again with
// `kubectl rollout restart`, sampling availability from a watch all along.
func TestDeploymentRollingUpdate(t *testing.T) {
	testbin.Path(t) // build kubectl's binary before the controllers start
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	mustCreateNodes(t, c, node("n1", "10", nil), node("n2", "10", nil), node("n3", "10", nil))
	startFakeKubelet(t, s, "n1", "n2", "n3")
	startScheduler(t, s, scheduler.Options{})
	startControllerManager(t, s, controllermanager.Options{})

	two := intstr.FromInt32(2)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr(int32(10)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: pauseTemplate("web"),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &two, MaxSurge: &two}}}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	av := watchAvailability(t, c, "default", "app=web")
	waitRolledOut(t, c, "web", "skiff.local/pause:1")

	check := func(phase string) {
		t.Helper()
		minAvail, maxTotal, samples := av.result()
		t.Logf("%s: %d samples, available ≥ %d, pods ≤ %d", phase, samples, minAvail, maxTotal)
		if minAvail < 8 {
			t.Fatalf("%s: available pods dropped to %d, below replicas - maxUnavailable = 8", phase, minAvail)
		}
		if maxTotal > 12 {
			t.Fatalf("%s: %d pods at once, above replicas + maxSurge = 12", phase, maxTotal)
		}
		if samples < 20 {
			t.Fatalf("%s: only %d samples: the rollout was not observed", phase, samples)
		}
	}

	// Roll forward to a new image.
	av.arm()
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"skiff.local/pause:2"}]}}}}`
	if _, err := c.AppsV1().Deployments("default").Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, s, "rollout", "status", "deployment/web", "--timeout=60s")
	if !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status:\n%s", out)
	}
	d2 := waitRolledOut(t, c, "web", "skiff.local/pause:2")
	check("update")
	if rev := d2.Annotations["deployment.kubernetes.io/revision"]; rev != "2" {
		t.Fatalf("revision after update = %q, want 2", rev)
	}
	out = kubectl(t, s, "rollout", "history", "deployment/web")
	if !strings.Contains(out, "REVISION") || !hasRevisionLines(out, "1", "2") {
		t.Fatalf("rollout history:\n%s", out)
	}
	out = kubectl(t, s, "rollout", "history", "deployment/web", "--revision=1")
	if !strings.Contains(out, "skiff.local/pause:1") {
		t.Fatalf("rollout history --revision=1 does not show the old image:\n%s", out)
	}

	// Undo restores the old template as a new revision (3); revision 1 is gone.
	av.arm()
	out = kubectl(t, s, "rollout", "undo", "deployment/web")
	if !strings.Contains(out, "deployment.apps/web rolled back") {
		t.Fatalf("rollout undo:\n%s", out)
	}
	d3 := waitRolledOut(t, c, "web", "skiff.local/pause:1")
	check("undo")
	if rev := d3.Annotations["deployment.kubernetes.io/revision"]; rev != "3" {
		t.Fatalf("revision after undo = %q, want 3", rev)
	}
	out = kubectl(t, s, "rollout", "history", "deployment/web")
	if !hasRevisionLines(out, "2", "3") || hasRevisionLines(out, "1") {
		t.Fatalf("rollout history after undo (want revisions 2 and 3):\n%s", out)
	}
	rsl, err := c.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rsl.Items) != 2 {
		t.Fatalf("after undo want 2 ReplicaSets (the old one reused), got %d (%v)", len(rsl.Items), err)
	}

	// Restart rolls every pod again with the same spec.
	before := podNames(t, c, "app=web")
	av.arm()
	out = kubectl(t, s, "rollout", "restart", "deployment/web")
	if !strings.Contains(out, "deployment.apps/web restarted") {
		t.Fatalf("rollout restart:\n%s", out)
	}
	out = kubectl(t, s, "rollout", "status", "deployment/web", "--timeout=60s")
	if !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status after restart:\n%s", out)
	}
	d4 := waitRolledOut(t, c, "web", "skiff.local/pause:1")
	check("restart")
	if d4.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || d4.Annotations["deployment.kubernetes.io/revision"] != "4" {
		t.Fatalf("after restart: template annotations %v, revision %q", d4.Spec.Template.Annotations, d4.Annotations["deployment.kubernetes.io/revision"])
	}
	for n := range podNames(t, c, "app=web") {
		if before[n] {
			t.Fatalf("pod %s survived the restart", n)
		}
	}
	cond := map[appsv1.DeploymentConditionType]appsv1.DeploymentCondition{}
	for _, c := range d4.Status.Conditions {
		cond[c.Type] = c
	}
	if cond[appsv1.DeploymentAvailable].Status != corev1.ConditionTrue || cond[appsv1.DeploymentProgressing].Reason != "NewReplicaSetAvailable" {
		t.Fatalf("conditions %+v", d4.Status.Conditions)
	}
}

// hasRevisionLines reports whether `rollout history` lists every given revision.
func hasRevisionLines(out string, revs ...string) bool {
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			seen[f[0]] = true
		}
	}
	for _, r := range revs {
		if !seen[r] {
			return false
		}
	}
	return true
}

func podNames(t *testing.T, c kubernetes.Interface, selector string) map[string]bool {
	t.Helper()
	l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range l.Items {
		out[p.Name] = true
	}
	return out
}
