package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

func internalCodec(t *testing.T) runtime.Codec {
	info, ok := runtime.SerializerInfoForMediaType(catalog.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	return catalog.Codecs.CodecForVersions(info.Serializer, catalog.Codecs.UniversalDeserializer(),
		schema.GroupVersions{corev1.SchemeGroupVersion}, nil)
}

// TestCacheRelistsWhenItsWatchIsCompacted puts the cache behind a compaction (as after a
// long disconnection) and checks that it re-lists, closes its watchers (whose missed
// events are unknown) and keeps following etcd.
func TestCacheRelistsWhenItsWatchIsCompacted(t *testing.T) {
	ctx := ContextForTest(t)
	s := &store{client: TestEtcdClient, prefix: KeyRootForTest(t) + "/registry/pods/",
		resource: schema.GroupResource{Resource: "pods"}, label: "pods",
		newFunc: func() runtime.Object { return &corev1.Pod{} }, codec: internalCodec(t)}
	s.cache = newWatchCache(s, 100)
	s.cache.watchCtx = ctx
	if err := s.cache.relist(ctx); err != nil {
		t.Fatal(err)
	}
	stale := s.cache.rev
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: "a"}}
	if _, err := s.Create(ctx, s.prefix+"d/a", pod, false); err != nil {
		t.Fatal(err)
	}
	// A second write, so that the revision after the stale one is compacted too.
	if _, err := s.Create(ctx, s.prefix+"d/a2", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: "a2"}}, false); err != nil {
		t.Fatal(err)
	}
	rev, err := s.etcdRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TestEtcdClient.Compact(ctx, int64(rev)); err != nil {
		t.Fatal(err)
	}

	followed := make(chan error, 1)
	go func() { followed <- s.cache.follow(ctx) }()
	select {
	case err := <-followed:
		if !errors.Is(err, errWatchCompacted) {
			t.Fatalf("follow from a compacted revision: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow from a compacted revision did not fail")
	}
	w := &cacheWatcher{cache: s.cache, input: make(chan *event, 1), done: make(chan struct{}), evicted: make(chan struct{})}
	if _, err := s.cache.register(w, false, stale); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.cache.run(runCtx)

	select {
	case <-w.evicted:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not closed by the re-list")
	}
	if err := s.cache.waitFor(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if s.cache.get(s.prefix+"d/a") == nil {
		t.Fatal("re-listed cache lacks the object written while it was behind")
	}
	if _, err := s.Create(ctx, s.prefix+"d/b", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: "b"}}, false); err != nil {
		t.Fatal(err)
	}
	rev, _ = s.etcdRevision(ctx)
	if err := s.cache.waitFor(ctx, rev); err != nil || s.cache.get(s.prefix+"d/b") == nil {
		t.Fatalf("cache stopped following after the re-list: %v", err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !s.cache.isStopped() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.cache.register(w, false, 0); err == nil {
		t.Error("a stopped cache accepted a watcher")
	}
}

// TestCompactor runs two compactors (two API servers) and checks that etcd gets
// compacted and that they share one compaction per interval.
func TestCompactor(t *testing.T) {
	ctx, cancel := context.WithCancel(ContextForTest(t))
	defer cancel()
	before, err := TestEtcdClient.Get(ctx, CompactRevKey)
	if err != nil {
		t.Fatal(err)
	}
	var version0 int64
	if len(before.Kvs) > 0 {
		version0 = before.Kvs[0].Version
	}
	key := KeyRootForTest(t) + "/x"
	put, err := TestEtcdClient.Put(ctx, key, "1")
	if err != nil {
		t.Fatal(err)
	}
	const interval = 100 * time.Millisecond
	start := time.Now()
	StartCompactor(ctx, TestEtcdClient, interval)
	StartCompactor(ctx, TestEtcdClient, interval)
	for {
		_, err := TestEtcdClient.Get(ctx, key, clientv3WithRev(put.Header.Revision))
		if isCompacted(err) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("revision %d not compacted after 10s (last error %v)", put.Header.Revision, err)
		}
		// keep the revision moving as a live cluster would
		TestEtcdClient.Put(ctx, key, "again")
		time.Sleep(interval / 2)
	}
	cancel()
	elapsed := time.Since(start)
	after, err := TestEtcdClient.Get(context.Background(), CompactRevKey)
	if err != nil || len(after.Kvs) == 0 {
		t.Fatalf("compact key: %v", err)
	}
	ticks := int64(elapsed/interval) + 2
	if v := after.Kvs[0].Version - version0; v < 1 || v > ticks {
		t.Errorf("compact key advanced %d times in %v; want one per interval (at most %d)", v, elapsed, ticks)
	}
}

func TestPeriodicBookmarks(t *testing.T) {
	old := bookmarkInterval
	bookmarkInterval = 50 * time.Millisecond
	defer func() { bookmarkInterval = old }()
	ctx := ContextForTest(t)
	prefix := KeyRootForTest(t) + "/registry/pods/"
	s, err := New(ctx, Config{Client: TestEtcdClient, Prefix: prefix, Resource: schema.GroupResource{Resource: "pods"},
		NewFunc: func() runtime.Object { return &corev1.Pod{} }, Codec: internalCodec(t)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, prefix, WatchOptions{ResourceVersion: "0", AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	out, err := s.Create(ctx, prefix+"d/a", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: "a"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	created := out.(*corev1.Pod).ResourceVersion
	createdRV, _ := parseRV(created)
	var sawAdd bool
	bookmarks := 0
	timeout := time.After(5 * time.Second)
	for bookmarks < 3 {
		select {
		case ev := <-w.ResultChan():
			pod := ev.Object.(*corev1.Pod)
			switch ev.Type {
			case "ADDED":
				sawAdd = pod.ResourceVersion == created
			case "BOOKMARK":
				if pod.Name != "" || len(pod.Annotations) != 0 {
					t.Errorf("bookmark carries %+v", pod.ObjectMeta)
				}
				if rv, _ := parseRV(pod.ResourceVersion); sawAdd && rv < createdRV {
					t.Errorf("bookmark rv %d before the event at %d", rv, createdRV)
				}
				bookmarks++
			}
		case <-timeout:
			t.Fatalf("%d bookmarks in 5s", bookmarks)
		}
	}
	if !sawAdd {
		t.Error("no ADDED event for the create")
	}
}
