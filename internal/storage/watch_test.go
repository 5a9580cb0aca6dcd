package storage_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

type change struct {
	typ  watch.EventType
	name string
	rv   uint64
}

// TestWatchReplaysExactlyTheEventsAfterRV makes a mix of changes after a revision and
// checks a watch from that revision gets each of them once, in order, then live ones.
func TestWatchReplaysExactlyTheEventsAfterRV(t *testing.T) {
	p := newPods(t, 0)
	start := p.create(t, newPod("default", "p0"))
	// An unrelated write in another namespace before the start must not be replayed.
	var want []change
	for i := 1; i <= 30; i++ {
		name := fmt.Sprintf("p%d", i%5)
		switch _, err := p.Get(p.ctx, p.key("default", name), ""); {
		case apierrors.IsNotFound(err):
			out := p.create(t, newPod("default", name))
			want = append(want, change{watch.Added, name, rvOf(t, out)})
		case i%3 == 0:
			out, err := p.Delete(p.ctx, p.key("default", name), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, change{watch.Deleted, name, rvOf(t, out)})
		default:
			out := p.update(t, "default", name, func(pod *corev1.Pod) {
				pod.Labels = map[string]string{"i": strconv.Itoa(i)}
			})
			want = append(want, change{watch.Modified, name, rvOf(t, out)})
		}
	}
	for _, rv := range []string{start.ResourceVersion, strconv.FormatUint(want[9].rv, 10)} {
		from, _ := strconv.ParseUint(rv, 10, 64)
		w, err := p.Watch(p.ctx, p.key("default", ""), storage.WatchOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range want {
			if c.rv > from {
				expectEvent(t, w, c.typ, c.name, c.rv)
			}
		}
		expectNoEvent(t, w, 100*time.Millisecond)
		live := p.create(t, newPod("default", "live"+rv))
		expectEvent(t, w, watch.Added, "live"+rv, rvOf(t, live))
		want = append(want, change{watch.Added, "live" + rv, rvOf(t, live)})
		w.Stop()
		if _, ok := <-w.ResultChan(); ok {
			t.Error("result channel open after Stop")
		}
	}
}

func TestWatchInitialStateAndContextEnd(t *testing.T) {
	p := newPods(t, 0)
	p.create(t, newPod("a", "x"))
	p.create(t, newPod("a", "y"))
	p.create(t, newPod("b", "z"))
	for _, rv := range []string{"", "0"} {
		ctx, cancel := context.WithCancel(p.ctx)
		w, err := p.Watch(ctx, p.key("a", ""), storage.WatchOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		expectEvent(t, w, watch.Added, "x", 0)
		expectEvent(t, w, watch.Added, "y", 0)
		expectNoEvent(t, w, 100*time.Millisecond)
		cancel()
		select {
		case _, ok := <-w.ResultChan():
			if ok {
				t.Error("event after cancel")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watch did not end with its context")
		}
	}
}

// TestWatchTooOldAfterCompaction: a revision that has left the event ring is 410; so
// are an exact list and a continue token at a compacted revision.
func TestWatchTooOldAfterCompaction(t *testing.T) {
	p := newPods(t, 100) // the minimum ring size
	first := p.create(t, newPod("default", "a"))
	for i := range 10 {
		p.create(t, newPod("default", fmt.Sprintf("page-%d", i)))
	}
	page, err := p.List(p.ctx, p.prefix, storage.ListOptions{Limit: 2})
	if err != nil || page.Continue == "" {
		t.Fatalf("list: %v", err)
	}
	var last *corev1.Pod
	for i := range 150 {
		last = p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Labels = map[string]string{"i": strconv.Itoa(i)} })
	}
	if _, err := storage.TestEtcdClient.Compact(p.ctx, int64(rvOf(t, last))); err != nil {
		t.Fatal(err)
	}

	_, err = p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: first.ResourceVersion})
	if !apierrors.IsResourceExpired(err) || !apierrors.IsGone(err) && apierrors.ReasonForError(err) != metav1.StatusReasonExpired {
		t.Errorf("watch from evicted rv: %v", err)
	}
	if code := statusCode(err); code != 410 {
		t.Errorf("code %d, want 410", code)
	}
	_, err = p.List(p.ctx, p.prefix, storage.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: "Exact"})
	if statusCode(err) != 410 {
		t.Errorf("exact list at compacted rv: %v", err)
	}
	_, err = p.List(p.ctx, p.prefix, storage.ListOptions{Limit: 2, Continue: page.Continue})
	if statusCode(err) != 410 {
		t.Errorf("continue at compacted rv: %v", err)
	}
	// Recent revisions still work, and the cache keeps following etcd.
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: last.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next := p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Labels = nil })
	expectEvent(t, w, watch.Modified, "a", rvOf(t, next))
}

func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}

func TestWatchFieldSelectorTransitions(t *testing.T) {
	p := newPods(t, 0)
	start := p.create(t, newPod("default", "a"))
	p.create(t, newPod("default", "never"))
	pred := storage.Predicate{Field: fields.OneTermEqualSelector("spec.nodeName", "n1"), Attrs: podAttrs}
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: start.ResourceVersion, Predicate: pred})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p.update(t, "default", "never", func(pod *corev1.Pod) { pod.Spec.NodeName = "n2" })
	bound := p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Spec.NodeName = "n1" })
	expectEvent(t, w, watch.Added, "a", rvOf(t, bound))
	labelled := p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Labels = map[string]string{"k": "v"} })
	expectEvent(t, w, watch.Modified, "a", rvOf(t, labelled))
	moved := p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Spec.NodeName = "n2" })
	got := expectEvent(t, w, watch.Deleted, "a", rvOf(t, moved))
	if got.Spec.NodeName != "n2" {
		t.Errorf("DELETED for a pod leaving the selector carries nodeName %q, want the new state", got.Spec.NodeName)
	}
	p.Delete(p.ctx, p.key("default", "a"), nil, false)
	p.Delete(p.ctx, p.key("default", "never"), nil, false)
	expectNoEvent(t, w, 200*time.Millisecond)

	// Initial state is filtered too.
	p.create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "on-n1"}, Spec: corev1.PodSpec{NodeName: "n1"}})
	p.create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "on-n3"}, Spec: corev1.PodSpec{NodeName: "n3"}})
	w2, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{Predicate: pred})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	expectEvent(t, w2, watch.Added, "on-n1", 0)
	expectNoEvent(t, w2, 100*time.Millisecond)
}

func TestWatchListBookmark(t *testing.T) {
	p := newPods(t, 0)
	var lastRV uint64
	for _, n := range []string{"a", "b", "c"} {
		lastRV = rvOf(t, p.create(t, newPod("default", n)))
	}
	// A write to another resource moves etcd's revision past anything this cache saw;
	// a consistent watch-list must still start (the cache asks etcd for progress).
	other := newStore(t, storage.KeyRootForTest(t)+"/registry/configmaps/", 0)
	otherRV := rvOf(t, other.create(t, newPod("default", "unrelated")))

	yes := true
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{SendInitialEvents: &yes, AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, n := range []string{"a", "b", "c"} {
		expectEvent(t, w, watch.Added, n, 0)
	}
	ev := nextEvent(t, w)
	if ev.Type != watch.Bookmark {
		t.Fatalf("got %s, want BOOKMARK", ev.Type)
	}
	pod := ev.Object.(*corev1.Pod)
	if pod.Annotations[storage.InitialEventsEndAnnotation] != "true" || pod.Name != "" {
		t.Errorf("bookmark object %+v", pod.ObjectMeta)
	}
	if rv := rvOf(t, pod); rv < otherRV || rv < lastRV {
		t.Errorf("bookmark rv %d older than etcd's revision %d at the request", rv, otherRV)
	}
	live := p.create(t, newPod("default", "d"))
	expectEvent(t, w, watch.Added, "d", rvOf(t, live))

	// A list at the other store's revision is served by this cache after it catches up.
	list, err := p.List(p.ctx, p.prefix, storage.ListOptions{ResourceVersion: strconv.FormatUint(otherRV, 10)})
	if err != nil || len(list.Items) != 4 {
		t.Fatalf("list at rv %d: %v", otherRV, err)
	}
}

func TestWatchResourceVersionTooLarge(t *testing.T) {
	p := newPods(t, 0)
	cur, _ := p.CurrentRevision(p.ctx)
	begin := time.Now()
	_, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: strconv.FormatUint(cur+1_000_000, 10)})
	if statusCode(err) != 504 || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		t.Fatalf("watch from the future: %v", err)
	}
	if d := time.Since(begin); d < 2*time.Second || d > 6*time.Second {
		t.Errorf("gave up after %v, want about 3s", d)
	}
}

// TestSlowWatcherIsClosed: a consumer that stops reading is dropped; others still get
// every event.
func TestSlowWatcherIsClosed(t *testing.T) {
	p := newPods(t, 0)
	start := p.create(t, newPod("default", "a"))
	slow, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: start.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	fast, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: start.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()

	const n = 1500 // more than a watcher's buffer
	var got int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast.ResultChan() {
			if got++; got == n {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := p.Create(p.ctx, p.key("default", fmt.Sprintf("b-%d", i)), newPod("default", fmt.Sprintf("b-%d", i)), false); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("fast watcher got %d of %d events", got, n)
	}
	var drained int
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-slow.ResultChan():
			if !ok {
				if drained >= n {
					t.Errorf("slow watcher got all %d events; it should have been closed", drained)
				}
				return
			}
			drained++
		case <-timeout:
			t.Fatal("slow watcher was never closed")
		}
	}
}
