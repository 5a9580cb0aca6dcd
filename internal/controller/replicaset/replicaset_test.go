package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func newRS(name string, n int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

type harness struct {
	client   *fake.Clientset
	ctrl     *Controller
	recorder *record.FakeRecorder
	creates  atomic.Int64
	deletes  atomic.Int64
}

func start(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{client: ctrltest.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	h.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		h.creates.Add(1)
		return false, nil, nil
	})
	h.client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		h.deletes.Add(1)
		return false, nil, nil
	})
	ctrltest.LagWatches(h.client, "pods", 300*time.Millisecond)
	f := informers.NewSharedInformerFactory(h.client, 0)
	opts := Options{}
	opts.Recorder = h.recorder
	h.ctrl = New(h.client, f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown) // cleanups run last-first: cancel, then wait for informers
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go h.ctrl.Run(ctx, 4)
	return h
}

func (h *harness) pods(t *testing.T) []corev1.Pod {
	l, err := h.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (h *harness) scale(t *testing.T, name string, n int32) {
	rs, err := h.client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs.Spec.Replicas = ptr.To(n)
	rs.Generation++
	if _, err := h.client.AppsV1().ReplicaSets("default").Update(context.Background(), rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) status(t *testing.T, name string) appsv1.ReplicaSetStatus {
	rs, err := h.client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs.Status
}

// The controller must reach exactly the wanted count and never over-create
// while its informer lags: the number of create (delete) requests must equal
// the scale delta.
func TestScaleUpAndDownExact(t *testing.T) {
	h := start(t, newRS("web", 0))
	h.scale(t, "web", 50)
	ctrltest.Eventually(t, 10*time.Second, "50 pods", func() bool { return len(h.pods(t)) == 50 })
	ctrltest.Eventually(t, 5*time.Second, "status.replicas=50", func() bool { return h.status(t, "web").Replicas == 50 })
	time.Sleep(200 * time.Millisecond) // give a buggy controller time to overshoot
	if got := h.creates.Load(); got != 50 {
		t.Fatalf("create requests = %d, want exactly 50", got)
	}
	for _, p := range h.pods(t) {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicaSet" || ref.Name != "web" || !*ref.BlockOwnerDeletion {
			t.Fatalf("pod %s has bad controller ref %+v", p.Name, ref)
		}
		if p.GenerateName != "web-" || p.Labels["app"] != "web" {
			t.Fatalf("pod %s: generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
		}
	}

	h.scale(t, "web", 0)
	ctrltest.Eventually(t, 10*time.Second, "0 pods", func() bool { return len(h.pods(t)) == 0 })
	// The status may first report 0 replicas from a sync that began before the
	// scale's generation reached the lister; the one for generation 3 follows.
	ctrltest.Eventually(t, 5*time.Second, "status.replicas=0 for generation 3", func() bool {
		s := h.status(t, "web")
		return s.Replicas == 0 && s.ObservedGeneration == 3
	})
	time.Sleep(200 * time.Millisecond)
	if got := h.deletes.Load(); got != 50 {
		t.Fatalf("delete requests = %d, want exactly 50", got)
	}
	if got := h.creates.Load(); got != 50 {
		t.Fatalf("create requests after scale-down = %d, want still 50", got)
	}
}

func TestAdoptsOrphansAndReleasesNonMatching(t *testing.T) {
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default", Labels: map[string]string{"app": "web"}}}
	h := start(t, newRS("web", 1), orphan)
	ctrltest.Eventually(t, 5*time.Second, "orphan adopted", func() bool {
		p, _ := h.client.CoreV1().Pods("default").Get(context.Background(), "orphan", metav1.GetOptions{})
		ref := metav1.GetControllerOf(p)
		return ref != nil && ref.Name == "web"
	})
	time.Sleep(100 * time.Millisecond)
	if n := len(h.pods(t)); n != 1 {
		t.Fatalf("pods = %d, want 1 (the adopted orphan only)", n)
	}
	// Relabel it: it must be released and replaced.
	p, _ := h.client.CoreV1().Pods("default").Get(context.Background(), "orphan", metav1.GetOptions{})
	p.Labels = map[string]string{"app": "other"}
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "released and replaced", func() bool {
		ps := h.pods(t)
		if len(ps) != 2 {
			return false
		}
		for _, p := range ps {
			if p.Name == "orphan" && metav1.GetControllerOf(&p) != nil {
				return false
			}
		}
		return true
	})
}

func TestReadyAndAvailableStatus(t *testing.T) {
	rs := newRS("web", 2)
	rs.Spec.MinReadySeconds = 0
	h := start(t, rs)
	ctrltest.Eventually(t, 5*time.Second, "2 pods", func() bool { return len(h.pods(t)) == 2 })
	for _, p := range h.pods(t) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := h.client.CoreV1().Pods("default").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ctrltest.Eventually(t, 5*time.Second, "ready=available=2", func() bool {
		s := h.status(t, "web")
		return s.ReadyReplicas == 2 && s.AvailableReplicas == 2 && s.FullyLabeledReplicas == 2
	})
}

func TestDeletionOrder(t *testing.T) {
	now := time.Now()
	mk := func(name, node string, phase corev1.PodPhase, ready bool, age time.Duration) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-age))}}
		}
		return p
	}
	pods := []*corev1.Pod{
		mk("old-ready", "n1", corev1.PodRunning, true, time.Hour),
		mk("new-ready", "n1", corev1.PodRunning, true, time.Minute),
		mk("notready", "n1", corev1.PodRunning, false, time.Hour),
		mk("pending", "n1", corev1.PodPending, false, time.Hour),
		mk("unscheduled", "", corev1.PodPending, false, time.Hour),
	}
	got := podsToDelete(pods, 4)
	want := []string{"unscheduled", "pending", "notready", "new-ready"}
	for i := range want {
		if got[i].Name != want[i] {
			t.Fatalf("order = %v, want %v", names(got), want)
		}
	}
}

func names(ps []*corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestSlowStartBatch(t *testing.T) {
	var calls atomic.Int64
	n, err := slowStartBatch(10, 1, func() error {
		if calls.Add(1) > 3 {
			return fmt.Errorf("quota")
		}
		return nil
	})
	// batches 1, 2 succeed; batch of 4 fails -> 7 issued
	if err == nil || n != 7 {
		t.Fatalf("issued=%d err=%v, want 7 and an error", n, err)
	}
}

func TestReplicationController(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](3),
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"rc": "x"}}}},
	}
	client := ctrltest.NewClientset(rc)
	f := informers.NewSharedInformerFactory(client, 0)
	c := NewReplicationManager(client, f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Start(ctx.Done())
	go c.Run(ctx, 2)
	ctrltest.Eventually(t, 5*time.Second, "3 pods owned by the RC", func() bool {
		l, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if len(l.Items) != 3 {
			return false
		}
		ref := metav1.GetControllerOf(&l.Items[0])
		return ref.Kind == "ReplicationController" && ref.APIVersion == "v1"
	})
	ctrltest.Eventually(t, 5*time.Second, "rc status", func() bool {
		got, _ := client.CoreV1().ReplicationControllers("default").Get(ctx, "rc", metav1.GetOptions{})
		return got.Status.Replicas == 3
	})
}
