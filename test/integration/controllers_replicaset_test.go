package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// podCounter follows a watch on pods and keeps how many exist and the most that
// ever existed at once: an over-creating controller cannot hide from it.
type podCounter struct {
	mu        sync.Mutex
	live, max int
	err       error // the first watch error: the counts are void after one
	stop      func()
	done      chan struct{}
}

func countPods(t *testing.T, c kubernetes.Interface, ns, selector string) *podCounter {
	t.Helper()
	w, err := c.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	pc := &podCounter{stop: w.Stop, done: make(chan struct{})}
	go func() {
		defer close(pc.done)
		for ev := range w.ResultChan() {
			pc.mu.Lock()
			switch ev.Type {
			case watch.Added:
				pc.live++
				pc.max = max(pc.max, pc.live)
			case watch.Deleted:
				pc.live--
			case watch.Error:
				if pc.err == nil {
					pc.err = fmt.Errorf("pod watch error: %v", ev.Object)
				}
			}
			pc.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.Stop(); <-pc.done })
	return pc
}

func (pc *podCounter) counts(t *testing.T) (live, maxSeen int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.err != nil {
		t.Fatal(pc.err)
	}
	return pc.live, pc.max
}

const scaleTo = 1000

// TestReplicaSetScaleExact scales a ReplicaSet 0 → 1,000 → 0 through the scale
// subresource and checks, from an independent watch, that it never overshoots,
// that exactly 1,000 pods exist with status to match, then none.
func TestReplicaSetScaleExact(t *testing.T) {
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"replicaset", "garbagecollector"}})
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "big"}}, Template: pauseTemplate("big")}}
	rs, err := c.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pc := countPods(t, c, "default", "app=big")
	scale := func(n int32) {
		t.Helper()
		_, err := c.AppsV1().ReplicaSets("default").UpdateScale(ctx, "big", &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	scale(scaleTo)
	eventually(t, 60*time.Second, "1,000 pods", func() (bool, error) {
		live, _ := pc.counts(t)
		return live == scaleTo, nil
	})
	exist := time.Since(start)
	eventually(t, 20*time.Second, "status.replicas 1,000", func() (bool, error) {
		cur, err := c.AppsV1().ReplicaSets("default").Get(ctx, "big", metav1.GetOptions{})
		return err == nil && cur.Status.Replicas == scaleTo && cur.Status.ObservedGeneration == cur.Generation, err
	})
	time.Sleep(time.Second) // a controller that over-creates would do it now
	l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=big"})
	if err != nil {
		t.Fatal(err)
	}
	if live, most := pc.counts(t); len(l.Items) != scaleTo || live != scaleTo || most != scaleTo {
		t.Fatalf("after scale-up: %d pods listed, %d by watch, at most %d at once; want exactly %d", len(l.Items), live, most, scaleTo)
	}
	for _, p := range l.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Fatalf("pod %s controller ref %+v", p.Name, ref)
		}
	}
	t.Logf("0 → %d pods exist in %v", scaleTo, exist.Round(time.Millisecond))

	start = time.Now()
	scale(0)
	eventually(t, 60*time.Second, "0 pods", func() (bool, error) {
		live, _ := pc.counts(t)
		return live == 0, nil
	})
	t.Logf("%d → 0 pods in %v", scaleTo, time.Since(start).Round(time.Millisecond))
	eventually(t, 20*time.Second, "status.replicas 0", func() (bool, error) {
		cur, err := c.AppsV1().ReplicaSets("default").Get(ctx, "big", metav1.GetOptions{})
		return err == nil && cur.Status.Replicas == 0, err
	})
	l, err = c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=big"})
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("after scale-down: %d pods remain (%v)", len(l.Items), err)
	}
	if _, most := pc.counts(t); most != scaleTo {
		t.Fatalf("at most %d pods at once, want %d", most, scaleTo)
	}
}
