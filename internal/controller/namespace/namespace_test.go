package namespace

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	clienttesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func meta(apiVersion, kind, ns, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestNamespaceDeletion(t *testing.T) {
	now := metav1.Now()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed", DeletionTimestamp: &now},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{FinalizerKubernetes}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	client := ctrltest.NewClientset(ns)
	var finalized atomic.Pointer[corev1.Namespace]
	client.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		obj := a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
		finalized.Store(obj)
		return true, obj, nil
	})
	md := ctrltest.NewMetadataClient(nil,
		meta("v1", "Pod", "doomed", "p1"), meta("v1", "ConfigMap", "doomed", "cm"),
		meta("apps/v1", "Deployment", "doomed", "web"), meta("v1", "Pod", "other", "keep"))
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, md, f, Options{RecheckInterval: 50 * time.Millisecond, Resources: []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "configmaps"}, {Group: "apps", Version: "v1", Resource: "deployments"}}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	ctrltest.Eventually(t, 5*time.Second, "namespace finalized", func() bool { return finalized.Load() != nil })
	if fin := finalized.Load().Spec.Finalizers; len(fin) != 0 {
		t.Fatalf("finalizers left: %v", fin)
	}
	for _, r := range []struct{ gvr schema.GroupVersionResource }{{schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}}, {schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}}} {
		l, err := md.Resource(r.gvr).Namespace("doomed").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("%s left in namespace: %v %v", r.gvr.Resource, l, err)
		}
	}
	if _, err := md.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("other").Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod in another namespace deleted: %v", err)
	}
}

func TestWaitsForGracefulContent(t *testing.T) {
	now := metav1.Now()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed", DeletionTimestamp: &now},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{FinalizerKubernetes}}}
	client := ctrltest.NewClientset(ns)
	var finalizeCalls atomic.Int32
	client.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		finalizeCalls.Add(1)
		return true, a.(clienttesting.CreateAction).GetObject(), nil
	})
	terminating := meta("v1", "Pod", "doomed", "slow")
	terminating.DeletionTimestamp = &now
	md := ctrltest.NewMetadataClient(nil, terminating)
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, md, f, Options{Resources: []schema.GroupVersionResource{{Version: "v1", Resource: "pods"}}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	if err := c.sync(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if finalizeCalls.Load() != 0 {
		t.Fatal("finalized while a pod is still terminating")
	}
}
