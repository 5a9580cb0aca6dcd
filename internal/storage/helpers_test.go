package storage_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/storage"
)

// protoCodec writes core/v1 protobuf and reads JSON or protobuf, as the API server does.
var protoCodec = func() runtime.Codec {
	info, ok := runtime.SerializerInfoForMediaType(catalog.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		panic("no protobuf serializer")
	}
	return catalog.Codecs.CodecForVersions(info.Serializer, catalog.Codecs.UniversalDeserializer(),
		schema.GroupVersions{corev1.SchemeGroupVersion}, nil)
}()

func podAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p := obj.(*corev1.Pod)
	return labels.Set(p.Labels), fields.Set{
		"metadata.name":      p.Name,
		"metadata.namespace": p.Namespace,
		"spec.nodeName":      p.Spec.NodeName,
	}, nil
}

type pods struct {
	storage.Interface
	prefix string
	ctx    context.Context
}

// newPods starts a pod store under a key root of its own; it stops with the test.
func newPods(t *testing.T, cacheSize int) *pods {
	t.Helper()
	prefix := storage.KeyRootForTest(t) + "/registry/pods/"
	return newStore(t, prefix, cacheSize)
}

func newStore(t *testing.T, prefix string, cacheSize int) *pods {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := storage.New(ctx, storage.Config{
		Client:         storage.TestEtcdClient,
		Prefix:         prefix,
		Resource:       schema.GroupResource{Resource: "pods"},
		NewFunc:        func() runtime.Object { return &corev1.Pod{} },
		Codec:          protoCodec,
		WatchCacheSize: cacheSize,
		DeleteOnUpdate: finalizedAndDue,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &pods{Interface: s, prefix: prefix, ctx: storage.ContextForTest(t)}
}

func (p *pods) key(ns, name string) string { return p.prefix + ns + "/" + name }

func (p *pods) create(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := p.Create(p.ctx, p.key(pod.Namespace, pod.Name), pod, false)
	if err != nil {
		t.Fatalf("create %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return out.(*corev1.Pod)
}

// update applies mutate to the stored pod through Update.
func (p *pods) update(t *testing.T, ns, name string, mutate func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	out, err := p.Update(p.ctx, p.key(ns, name), nil, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		mutate(pod)
		return pod, nil
	}, false)
	if err != nil {
		t.Fatalf("update %s/%s: %v", ns, name, err)
	}
	return out.(*corev1.Pod)
}

// finalizedAndDue is the API server's rule for deleting during an update: the deletion
// is requested, no finalizer remains and no grace period is running.
func finalizedAndDue(obj runtime.Object) bool {
	acc, err := meta.Accessor(obj)
	if err != nil || acc.GetDeletionTimestamp() == nil || len(acc.GetFinalizers()) > 0 {
		return false
	}
	g := acc.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

func newPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func rvOf(t *testing.T, obj runtime.Object) uint64 {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(acc.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", acc.GetResourceVersion(), err)
	}
	return n
}

func nameOf(obj runtime.Object) string {
	acc, _ := meta.Accessor(obj)
	return acc.GetName()
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed unexpectedly")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return watch.Event{}
}

// expectNoEvent fails if w delivers anything but a bookmark within d.
func expectNoEvent(t *testing.T, w watch.Interface, d time.Duration) {
	t.Helper()
	timer := time.After(d)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed unexpectedly")
			}
			if ev.Type != watch.Bookmark {
				t.Fatalf("unexpected event %s %s rv=%d", ev.Type, nameOf(ev.Object), rvOf(t, ev.Object))
			}
		case <-timer:
			return
		}
	}
}

func expectEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string, rv uint64) *corev1.Pod {
	t.Helper()
	ev := nextEvent(t, w)
	pod, ok := ev.Object.(*corev1.Pod)
	if !ok {
		t.Fatalf("event object is %T", ev.Object)
	}
	got := rvOf(t, pod)
	if ev.Type != typ || pod.Name != name || (rv != 0 && got != rv) {
		t.Fatalf("got %s %s rv=%d, want %s %s rv=%d", ev.Type, pod.Name, got, typ, name, rv)
	}
	return pod
}

func labelsParse(s string) (labels.Selector, error) { return labels.Parse(s) }
