package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

func TestCreateGet(t *testing.T) {
	p := newPods(t, 0)
	in := newPod("default", "a")
	in.ResourceVersion = "12345" // never stored
	created := p.create(t, in)
	rv := rvOf(t, created)
	if in.ResourceVersion != "12345" {
		t.Errorf("Create modified its argument: rv %q", in.ResourceVersion)
	}

	raw, err := storage.TestEtcdClient.Get(p.ctx, p.key("default", "a"))
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("raw get: %v %v", raw, err)
	}
	if !bytes.HasPrefix(raw.Kvs[0].Value, []byte("k8s\x00")) {
		t.Errorf("stored value is not Kubernetes protobuf: %q", raw.Kvs[0].Value[:10])
	}
	if uint64(raw.Kvs[0].ModRevision) != rv {
		t.Errorf("rv %d, mod revision %d", rv, raw.Kvs[0].ModRevision)
	}
	if bytes.Contains(raw.Kvs[0].Value, []byte("12345")) {
		t.Error("resourceVersion was stored")
	}

	got, err := p.Get(p.ctx, p.key("default", "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	if rvOf(t, got) != rv || got.(*corev1.Pod).Spec.Containers[0].Image != "busybox" {
		t.Errorf("get returned %+v", got)
	}
	// rv=N is served by the watch cache once it has seen N.
	cached, err := p.Get(p.ctx, p.key("default", "a"), strconv.FormatUint(rv, 10))
	if err != nil || rvOf(t, cached) != rv {
		t.Fatalf("cached get: %v %v", cached, err)
	}
	cached.(*corev1.Pod).Labels = map[string]string{"mutated": "yes"}
	again, _ := p.Get(p.ctx, p.key("default", "a"), "0")
	if again.(*corev1.Pod).Labels["mutated"] != "" {
		t.Error("Get from cache returned shared state")
	}

	_, err = p.Create(p.ctx, p.key("default", "a"), newPod("default", "a"), false)
	if !apierrors.IsAlreadyExists(err) || err.Error() != `pods "a" already exists` {
		t.Errorf("second create: %v", err)
	}
	_, err = p.Get(p.ctx, p.key("default", "missing"), "")
	if !apierrors.IsNotFound(err) || err.Error() != `pods "missing" not found` {
		t.Errorf("get missing: %v", err)
	}
	_, err = p.Get(p.ctx, p.key("default", "missing"), "0")
	if !apierrors.IsNotFound(err) {
		t.Errorf("cached get missing: %v", err)
	}
}

func TestConcurrentUpdates(t *testing.T) {
	p := newPods(t, 0)
	p.create(t, newPod("default", "counter"))
	const n = 10
	var calls atomic.Int64
	rvs := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Update(p.ctx, p.key("default", "counter"), nil, func(cur runtime.Object) (runtime.Object, error) {
				calls.Add(1)
				pod := cur.(*corev1.Pod)
				c, _ := strconv.Atoi(pod.Annotations["count"])
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations["count"] = strconv.Itoa(c + 1)
				return pod, nil
			}, false)
			if err != nil {
				errs <- err
				return
			}
			rvs[i] = rvOf(t, out)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("update failed: %v", err)
	}
	got, err := p.Get(p.ctx, p.key("default", "counter"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.(*corev1.Pod).Annotations["count"]; c != strconv.Itoa(n) {
		t.Errorf("count = %s, want %d (lost increments)", c, n)
	}
	seen := map[uint64]bool{}
	for _, rv := range rvs {
		if seen[rv] {
			t.Errorf("two updates returned rv %d", rv)
		}
		seen[rv] = true
	}
	t.Logf("%d updates needed %d calls of the update function", n, calls.Load())
}

func TestUpdateConflicts(t *testing.T) {
	p := newPods(t, 0)
	created := p.create(t, newPod("default", "a"))
	stale := created.ResourceVersion
	p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Labels = map[string]string{"v": "2"} })

	key := p.key("default", "a")
	_, err := p.Update(p.ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		pod.ResourceVersion = stale // a client PUT based on an old read
		pod.Labels = map[string]string{"v": "3"}
		return pod, nil
	}, false)
	if !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion: %v", err)
	}
	badRV, badUID := stale, types.UID("other")
	for _, pre := range []*storage.Preconditions{{ResourceVersion: &badRV}, {UID: &badUID}} {
		_, err = p.Update(p.ctx, key, pre, func(cur runtime.Object) (runtime.Object, error) { return cur, nil }, false)
		if !apierrors.IsConflict(err) {
			t.Errorf("precondition %+v: %v", pre, err)
		}
		_, err = p.Delete(p.ctx, key, pre, false)
		if !apierrors.IsConflict(err) {
			t.Errorf("delete precondition %+v: %v", pre, err)
		}
	}
	_, err = p.Update(p.ctx, p.key("default", "missing"), nil, func(cur runtime.Object) (runtime.Object, error) { return cur, nil }, false)
	if !apierrors.IsNotFound(err) {
		t.Errorf("update missing: %v", err)
	}
	boom := errors.New("boom")
	_, err = p.Update(p.ctx, key, nil, func(runtime.Object) (runtime.Object, error) { return nil, boom }, false)
	if !errors.Is(err, boom) {
		t.Errorf("fn error not returned: %v", err)
	}
	got, _ := p.Get(p.ctx, key, "")
	if got.(*corev1.Pod).Labels["v"] != "2" {
		t.Errorf("a failed update changed the object: %v", got.(*corev1.Pod).Labels)
	}
}

func TestNoopUpdateKeepsRVAndEmitsNothing(t *testing.T) {
	p := newPods(t, 0)
	created := p.create(t, newPod("default", "a"))
	rv := rvOf(t, created)
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	same := p.update(t, "default", "a", func(pod *corev1.Pod) {})
	if rvOf(t, same) != rv {
		t.Errorf("no-op update changed rv %d -> %d", rv, rvOf(t, same))
	}
	// Setting the resourceVersion the object already has is also a no-op.
	same = p.update(t, "default", "a", func(pod *corev1.Pod) { pod.ResourceVersion = created.ResourceVersion })
	if rvOf(t, same) != rv {
		t.Errorf("no-op update with rv changed rv %d -> %d", rv, rvOf(t, same))
	}
	changed := p.update(t, "default", "a", func(pod *corev1.Pod) { pod.Labels = map[string]string{"x": "y"} })
	if rvOf(t, changed) <= rv {
		t.Errorf("real update kept rv %d", rv)
	}
	// The first event after rv is the real change: the no-ops produced nothing.
	expectEvent(t, w, watch.Modified, "a", rvOf(t, changed))
}

func TestDelete(t *testing.T) {
	p := newPods(t, 0)
	created := p.create(t, newPod("default", "a"))
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	key := p.key("default", "a")

	if _, err := p.Delete(p.ctx, key, nil, true); err != nil {
		t.Fatalf("dry-run delete: %v", err)
	}
	if _, err := p.Get(p.ctx, key, ""); err != nil {
		t.Fatalf("dry-run delete removed the object: %v", err)
	}
	uid := created.UID
	out, err := p.Delete(p.ctx, key, &storage.Preconditions{UID: &uid}, false)
	if err != nil {
		t.Fatal(err)
	}
	delRV := rvOf(t, out)
	if out.(*corev1.Pod).Name != "a" || delRV <= rvOf(t, created) {
		t.Errorf("delete returned %s rv %d", out.(*corev1.Pod).Name, delRV)
	}
	if _, err := p.Get(p.ctx, key, ""); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := p.Delete(p.ctx, key, nil, false); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
	ev := expectEvent(t, w, watch.Deleted, "a", delRV)
	if ev.Spec.Containers[0].Image != "busybox" {
		t.Error("DELETED event lacks the last state")
	}
	if _, err := p.Get(p.ctx, key, strconv.FormatUint(delRV, 10)); !apierrors.IsNotFound(err) {
		t.Errorf("cached get after delete: %v", err)
	}
}

func TestDeleteThroughUpdateWhenFinalizersAreGone(t *testing.T) {
	p := newPods(t, 0)
	pod := newPod("default", "f")
	pod.Finalizers = []string{"example.com/f"}
	created := p.create(t, pod)
	w, err := p.Watch(p.ctx, p.prefix, storage.WatchOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	now := metav1.Now()
	zero := int64(0)
	marked := p.update(t, "default", "f", func(pod *corev1.Pod) {
		pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, &zero
	})
	expectEvent(t, w, watch.Modified, "f", rvOf(t, marked))

	out := p.update(t, "default", "f", func(pod *corev1.Pod) { pod.Finalizers = nil })
	if out.DeletionTimestamp == nil || rvOf(t, out) <= rvOf(t, marked) {
		t.Errorf("update-delete returned %+v", out.ObjectMeta)
	}
	if _, err := p.Get(p.ctx, p.key("default", "f"), ""); !apierrors.IsNotFound(err) {
		t.Errorf("object still there after its last finalizer went: %v", err)
	}
	expectEvent(t, w, watch.Deleted, "f", rvOf(t, out))

	// A graceful deletion in progress (grace period > 0) is an ordinary update.
	p.create(t, newPod("default", "g"))
	grace := int64(30)
	p.update(t, "default", "g", func(pod *corev1.Pod) { pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, &grace })
	if _, err := p.Get(p.ctx, p.key("default", "g"), ""); err != nil {
		t.Errorf("graceful pod deleted early: %v", err)
	}
}

func TestDryRun(t *testing.T) {
	p := newPods(t, 0)
	key := p.key("default", "a")
	out, err := p.Create(p.ctx, key, newPod("default", "a"), true)
	if err != nil || out.(*corev1.Pod).Name != "a" {
		t.Fatalf("dry-run create: %v %v", out, err)
	}
	if resp, _ := storage.TestEtcdClient.Get(p.ctx, key); len(resp.Kvs) != 0 {
		t.Fatal("dry-run create wrote")
	}
	created := p.create(t, newPod("default", "a"))
	if _, err := p.Create(p.ctx, key, newPod("default", "a"), true); !apierrors.IsAlreadyExists(err) {
		t.Errorf("dry-run create of existing: %v", err)
	}
	out, err = p.Update(p.ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		pod.Labels = map[string]string{"dry": "run"}
		return pod, nil
	}, true)
	if err != nil || out.(*corev1.Pod).Labels["dry"] != "run" {
		t.Fatalf("dry-run update: %v %v", out, err)
	}
	got, _ := p.Get(p.ctx, key, "")
	if rvOf(t, got) != rvOf(t, created) || got.(*corev1.Pod).Labels["dry"] != "" {
		t.Error("dry-run update wrote")
	}
}

// TestListPagination lists 5,000 pods in pages while other writes happen: every page
// reads the first page's snapshot, so the result is complete and has no duplicates.
func TestListPagination(t *testing.T) {
	p := newPods(t, 0)
	const total = 5000
	createMany(t, p, total)

	seen := map[string]bool{}
	var listRV uint64
	var pages int
	opts := storage.ListOptions{Limit: 700}
	for {
		res, err := p.List(p.ctx, p.prefix, opts)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if pages == 0 {
			listRV = res.ResourceVersion
			// Writes after the first page must not show up in later pages.
			p.create(t, newPod("ns0", "zzz-late"))
			p.Delete(p.ctx, p.key("ns1", "pod-00001"), nil, false)
		} else if res.ResourceVersion != listRV {
			t.Fatalf("page %d rv %d, first page rv %d", pages, res.ResourceVersion, listRV)
		}
		pages++
		for _, obj := range res.Items {
			k := obj.(*corev1.Pod).Namespace + "/" + obj.(*corev1.Pod).Name
			if seen[k] {
				t.Fatalf("duplicate %s", k)
			}
			seen[k] = true
		}
		if res.Continue == "" {
			if res.RemainingItemCount != nil {
				t.Errorf("last page has remainingItemCount %d", *res.RemainingItemCount)
			}
			break
		}
		if res.RemainingItemCount == nil || *res.RemainingItemCount != int64(total-len(seen)) {
			t.Errorf("page %d: remainingItemCount %v, want %d", pages, res.RemainingItemCount, total-len(seen))
		}
		opts.Continue = res.Continue
	}
	if len(seen) != total || pages != 8 {
		t.Errorf("listed %d objects in %d pages, want %d in 8", len(seen), pages, total)
	}
	if seen["ns0/zzz-late"] || !seen["ns1/pod-00001"] {
		t.Error("pages after the first did not read the first page's snapshot")
	}

	// Selector filtering with a limit fills pages across etcd batches.
	opts = storage.ListOptions{Limit: 300, Predicate: parity("odd")}
	var matched, filteredPages int
	names := map[string]bool{}
	for {
		res, err := p.List(p.ctx, p.prefix, opts)
		if err != nil {
			t.Fatal(err)
		}
		filteredPages++
		if res.RemainingItemCount != nil {
			t.Error("remainingItemCount set on a filtered list")
		}
		if res.Continue != "" && len(res.Items) != 300 {
			t.Errorf("filtered page with %d items and a continue token", len(res.Items))
		}
		for _, obj := range res.Items {
			pod := obj.(*corev1.Pod)
			if pod.Labels["parity"] != "odd" || names[pod.Namespace+pod.Name] {
				t.Fatalf("bad item %s/%s %v", pod.Namespace, pod.Name, pod.Labels)
			}
			names[pod.Namespace+pod.Name] = true
			matched++
		}
		if res.Continue == "" {
			break
		}
		opts.Continue = res.Continue
	}
	// pod-00001 (odd) was deleted after the first list above.
	if matched != total/2-1 {
		t.Errorf("filtered list returned %d, want %d", matched, total/2-1)
	}

	// One namespace, unpaged, from etcd and from the cache.
	res, err := p.List(p.ctx, p.key("ns0", ""), storage.ListOptions{})
	if err != nil || len(res.Items) != total/2+1 {
		t.Fatalf("namespace list: %d items, %v", len(res.Items), err)
	}
	cached, err := p.List(p.ctx, p.key("ns0", ""), storage.ListOptions{ResourceVersion: strconv.FormatUint(res.ResourceVersion, 10)})
	if err != nil || len(cached.Items) != total/2+1 || cached.ResourceVersion < res.ResourceVersion {
		t.Fatalf("cached namespace list: %d items rv %d, %v", len(cached.Items), cached.ResourceVersion, err)
	}
	// Exact: the state at the first list's revision.
	exact, err := p.List(p.ctx, p.prefix, storage.ListOptions{ResourceVersion: strconv.FormatUint(listRV, 10), ResourceVersionMatch: "Exact"})
	if err != nil || len(exact.Items) != total || exact.ResourceVersion != listRV {
		t.Fatalf("exact list: %d items rv %d, %v", len(exact.Items), exact.ResourceVersion, err)
	}
}

func parity(v string) storage.Predicate {
	sel, err := labelsParse("parity=" + v)
	if err != nil {
		panic(err)
	}
	return storage.Predicate{Label: sel, Attrs: podAttrs}
}

// createMany creates n pods split over namespaces ns0 and ns1, labelled parity=odd/even.
func createMany(t *testing.T, p *pods, n int) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int64
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				pod := newPod(fmt.Sprintf("ns%d", i%2), fmt.Sprintf("pod-%05d", i))
				pod.Labels = map[string]string{"parity": []string{"even", "odd"}[i%2]}
				if _, err := p.Create(p.ctx, p.key(pod.Namespace, pod.Name), pod, false); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d creates failed", failed.Load())
	}
}
