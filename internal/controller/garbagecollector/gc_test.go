package garbagecollector

import (
	"context"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

var (
	rsGVR  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	kinds  = []schema.GroupVersionKind{{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, {Version: "v1", Kind: "Pod"}}
)

func rs(name string, uid types.UID, finalizers ...string) *metav1.PartialObjectMetadata {
	m := ctrltest.Meta("apps/v1", "ReplicaSet", "default", name)
	m.UID = uid
	if len(finalizers) > 0 {
		now := metav1.Now()
		m.DeletionTimestamp = &now
		m.Finalizers = finalizers
	}
	return m
}

func pod(name string, block bool, owners ...*metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
	m := ctrltest.Meta("v1", "Pod", "default", name)
	for _, o := range owners {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet",
			Name: o.Name, UID: o.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(block)})
	}
	return m
}

func start(t *testing.T, objs ...*metav1.PartialObjectMetadata) (*metadatafake.FakeMetadataClient, context.Context) {
	md := ctrltest.NewMetadataClient(kinds, objs...)
	c := New(md, Options{Resources: []schema.GroupVersionResource{rsGVR, podGVR}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx, 2)
	return md, ctx
}

func exists(t *testing.T, md *metadatafake.FakeMetadataClient, ctx context.Context, gvr schema.GroupVersionResource, name string) *metav1.PartialObjectMetadata {
	m, err := md.Resource(gvr).Namespace("default").Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBackground(t *testing.T) {
	live := rs("live", "uid-live")
	gone := rs("gone", "uid-gone") // referenced, never created
	md, ctx := start(t, live,
		pod("orphaned", true, gone), pod("owned", true, live), pod("mixed", true, live, gone))
	ctrltest.Eventually(t, 5*time.Second, "pod of a missing owner deleted", func() bool {
		return exists(t, md, ctx, podGVR, "orphaned") == nil
	})
	ctrltest.Eventually(t, 5*time.Second, "dangling reference removed from mixed", func() bool {
		m := exists(t, md, ctx, podGVR, "mixed")
		return m != nil && len(m.OwnerReferences) == 1 && m.OwnerReferences[0].UID == "uid-live"
	})
	if exists(t, md, ctx, podGVR, "owned") == nil {
		t.Fatal("pod with a live owner deleted")
	}
	// The owner goes: its pods follow.
	if err := md.Resource(rsGVR).Namespace("default").Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "dependents of deleted owner deleted", func() bool {
		return exists(t, md, ctx, podGVR, "owned") == nil && exists(t, md, ctx, podGVR, "mixed") == nil
	})
}

func TestForeground(t *testing.T) {
	owner := rs("fg", "uid-fg", FinalizerForeground)
	md, ctx := start(t, owner, pod("blocker", true, owner), pod("nonblocking", false, owner))
	ctrltest.Eventually(t, 5*time.Second, "dependents deleted and finalizer removed", func() bool {
		o := exists(t, md, ctx, rsGVR, "fg")
		return exists(t, md, ctx, podGVR, "blocker") == nil && exists(t, md, ctx, podGVR, "nonblocking") == nil &&
			o != nil && !slices.Contains(o.Finalizers, FinalizerForeground)
	})
}

func TestOrphan(t *testing.T) {
	owner := rs("or", "uid-or", FinalizerOrphan)
	other := rs("other", "uid-other")
	md, ctx := start(t, owner, other, pod("a", true, owner), pod("b", true, owner, other))
	ctrltest.Eventually(t, 5*time.Second, "references removed, finalizer removed", func() bool {
		a, b, o := exists(t, md, ctx, podGVR, "a"), exists(t, md, ctx, podGVR, "b"), exists(t, md, ctx, rsGVR, "or")
		return a != nil && len(a.OwnerReferences) == 0 && b != nil && len(b.OwnerReferences) == 1 &&
			b.OwnerReferences[0].UID == "uid-other" && o != nil && !slices.Contains(o.Finalizers, FinalizerOrphan)
	})
	time.Sleep(200 * time.Millisecond)
	if exists(t, md, ctx, podGVR, "a") == nil {
		t.Fatal("orphaned dependent was deleted")
	}
}
