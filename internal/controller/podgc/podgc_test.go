package podgc

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

var bg = context.Background()

func mkPod(name, node string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
		CreationTimestamp: metav1.NewTime(time.Now().Add(-age))},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
}

func setup(t *testing.T, opts Options, objs ...runtime.Object) (*Controller, *fake.Clientset, *testingclock.FakeClock) {
	cs := ctrltest.NewClientset(objs...)
	clk := testingclock.NewFakeClock(time.Now())
	opts.Clock = clk
	f := informers.NewSharedInformerFactory(cs, 0)
	c := New(cs, f, opts)
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return c, cs, clk
}

func names(t *testing.T, cs *fake.Clientset) []string {
	l, err := cs.CoreV1().Pods("default").List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range l.Items {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestTerminatedAboveThresholdOldestFirst(t *testing.T) {
	var objs []runtime.Object
	for i := range 5 {
		objs = append(objs, mkPod(fmt.Sprintf("done-%d", i), "n1", corev1.PodSucceeded, time.Duration(10-i)*time.Hour))
	}
	objs = append(objs, mkPod("running", "n1", corev1.PodRunning, 100*time.Hour),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	c, cs, _ := setup(t, Options{TerminatedPodThreshold: 3}, objs...)
	var graces []int64
	cs.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if o := a.(clienttesting.DeleteActionImpl).DeleteOptions; o.GracePeriodSeconds != nil {
			graces = append(graces, *o.GracePeriodSeconds)
		}
		return false, nil, nil
	})
	c.Sweep(bg)
	got := names(t, cs)
	want := []string{"done-2", "done-3", "done-4", "running"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pods left %v, want %v (oldest two terminated deleted)", got, want)
	}
	if len(graces) != 2 || graces[0] != 0 {
		t.Fatalf("deletes must be forced with grace 0: %v", graces)
	}
}

func TestOrphanedAfterQuarantine(t *testing.T) {
	c, cs, clk := setup(t, Options{},
		mkPod("on-gone", "gone", corev1.PodRunning, time.Hour),
		mkPod("on-live", "live", corev1.PodRunning, time.Hour),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "live"}})
	c.Sweep(bg)
	if got := names(t, cs); len(got) != 2 {
		t.Fatalf("deleted before quarantine: %v", got)
	}
	clk.Step(DefaultQuarantine + time.Second)
	var patched bool
	cs.PrependReactor("patch", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		patched = a.GetSubresource() == "status"
		return false, nil, nil
	})
	c.Sweep(bg)
	if got := names(t, cs); fmt.Sprint(got) != "[on-live]" {
		t.Fatalf("pods left %v, want only on-live", got)
	}
	if !patched {
		t.Fatal("orphan not marked Failed/DisruptionTarget before deletion")
	}
}

func TestUnscheduledTerminating(t *testing.T) {
	p := mkPod("stuck", "", corev1.PodPending, time.Hour)
	now := metav1.Now()
	p.DeletionTimestamp = &now
	c, cs, _ := setup(t, Options{}, p, mkPod("pending", "", corev1.PodPending, time.Hour))
	c.Sweep(bg)
	if got := names(t, cs); fmt.Sprint(got) != "[pending]" {
		t.Fatalf("pods left %v", got)
	}
}
