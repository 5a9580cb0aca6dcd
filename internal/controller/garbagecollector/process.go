package garbagecollector

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

type ownerState int

const (
	solid   ownerState = iota // exists
	absent                    // gone (or replaced by a different UID)
	waiting                   // being deleted in the foreground
	unknown                   // kind not served: never act on it
)

// ownerState resolves an ownerReference: the cache first, then a live read,
// because a cache miss may just be informer lag (an owner created a moment
// ago) and deleting on a false "absent" is unrecoverable.
func (c *Controller) ownerState(ctx context.Context, depNS string, r metav1.OwnerReference) (ownerState, error) {
	gvr, ok := resourceFor(r)
	if !ok {
		return unknown, nil
	}
	ns := ownerNamespace(gvr, depNS)
	m, ok := c.get(gvr, ns, r.Name)
	if !ok || m.UID != r.UID {
		live, err := c.md.Resource(gvr).Namespace(ns).Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return absent, nil
		}
		if err != nil {
			return unknown, err
		}
		if live.UID != r.UID {
			return absent, nil
		}
		m = live
	}
	if m.DeletionTimestamp != nil && slices.Contains(m.Finalizers, FinalizerForeground) {
		return waiting, nil
	}
	return solid, nil
}

func (c *Controller) processDependent(ctx context.Context, gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata) error {
	if obj.DeletionTimestamp != nil {
		return nil // already going
	}
	var keep, drop []metav1.OwnerReference
	anyWaiting, anyUnknown := false, false
	for _, r := range obj.OwnerReferences {
		st, err := c.ownerState(ctx, obj.Namespace, r)
		if err != nil {
			return err
		}
		switch st {
		case solid:
			keep = append(keep, r)
		case unknown:
			keep = append(keep, r)
			anyUnknown = true
		case waiting:
			anyWaiting = true
			drop = append(drop, r)
		case absent:
			drop = append(drop, r)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	ri := c.md.Resource(gvr).Namespace(obj.Namespace)
	if len(keep) > 0 {
		// Some owner still lives (or cannot be checked): only detach.
		_ = anyUnknown
		return c.patchOwnerRefs(ctx, gvr, obj, keep)
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case anyWaiting && len(c.dependents(obj.UID)) > 0:
		policy = metav1.DeletePropagationForeground // its own dependents go first
	case slices.Contains(obj.Finalizers, FinalizerOrphan):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(obj.Finalizers, FinalizerForeground):
		policy = metav1.DeletePropagationForeground
	}
	uid := obj.UID
	err := ri.Delete(ctx, obj.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (c *Controller) patchOwnerRefs(ctx context.Context, gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": refs, "resourceVersion": obj.ResourceVersion, "uid": obj.UID}})
	_, err := c.md.Resource(gvr).Namespace(obj.Namespace).Patch(ctx, obj.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) removeFinalizer(ctx context.Context, gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata, f string) error {
	rest := []string{}
	for _, x := range obj.Finalizers {
		if x != f {
			rest = append(rest, x)
		}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": rest, "resourceVersion": obj.ResourceVersion}})
	_, err := c.md.Resource(gvr).Namespace(obj.Namespace).Patch(ctx, obj.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) processOwner(ctx context.Context, gvr schema.GroupVersionResource, owner *metav1.PartialObjectMetadata) error {
	if owner.DeletionTimestamp == nil {
		return nil
	}
	deps := c.dependents(owner.UID)
	switch {
	case slices.Contains(owner.Finalizers, FinalizerOrphan):
		var errs []error
		for _, d := range deps {
			var keep []metav1.OwnerReference
			for _, r := range d.obj.OwnerReferences {
				if r.UID != owner.UID {
					keep = append(keep, r)
				}
			}
			if err := c.patchOwnerRefs(ctx, d.gvr, d.obj, keep); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return utilerrors.NewAggregate(errs)
		}
		return c.removeFinalizer(ctx, gvr, owner, FinalizerOrphan)

	case slices.Contains(owner.Finalizers, FinalizerForeground):
		blocking := 0
		for _, d := range deps {
			for _, r := range d.obj.OwnerReferences {
				if r.UID == owner.UID && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
					blocking++
				}
			}
			if d.obj.DeletionTimestamp == nil {
				c.loop.Queue.Add(itemKey("dep", d.gvr, d.obj.Namespace, d.obj.Name))
			}
		}
		if blocking > 0 {
			// Dependent deletions requeue us; this is the safety net.
			c.loop.Queue.AddAfter(itemKey("own", gvr, owner.Namespace, owner.Name), 5*time.Second)
			return nil
		}
		return c.removeFinalizer(ctx, gvr, owner, FinalizerForeground)
	}
	return nil
}
