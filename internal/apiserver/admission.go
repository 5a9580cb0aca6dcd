package apiserver

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
)

// attributes describe a request to the admission chain.
func attributes(ctx context.Context, op admission.Operation, ri requestInfo, name string, obj, old runtime.Object, dryRun bool) *admission.Attributes {
	a := &admission.Attributes{
		Operation: op, Resource: ri.res.GroupVersionResource, Subresource: ri.subresource,
		Kind: ri.res.GVK(), Namespace: ri.namespace, Name: name,
		Object: obj, OldObject: old, DryRun: dryRun,
	}
	if sub := ri.res.Subresource(ri.subresource); sub != nil {
		a.Kind = sub.Kind
	}
	if u, ok := auth.UserFrom(ctx); ok {
		a.User = u
	}
	return a
}

// cacheReader is the admission plugins' view of other objects.
type cacheReader struct{ s *Server }

func (c cacheReader) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (runtime.Object, error) {
	res := c.s.resourceOf(gr)
	if res == nil {
		return nil, apierrors.NewNotFound(gr, name)
	}
	return c.s.getCached(ctx, gr, c.s.key(requestInfo{namespace: namespace, res: res}, name))
}

func (c cacheReader) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]runtime.Object, error) {
	res := c.s.resourceOf(gr)
	st, ok := c.s.stores[gr]
	if res == nil || !ok {
		return nil, apierrors.NewNotFound(gr, "")
	}
	out, err := st.List(ctx, c.s.collectionPrefix(requestInfo{namespace: namespace, res: res}), storageAny())
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// getCached reads an object the admission chain depends on from the watch cache,
// falling back to a quorum read when the cache has not seen it yet: a client that
// creates a namespace (or PriorityClass) and then uses it must never get a 404.
func (s *Server) getCached(ctx context.Context, gr schema.GroupResource, key string) (runtime.Object, error) {
	obj, err := s.stores[gr].Get(ctx, key, "0")
	if apierrors.IsNotFound(err) {
		return s.stores[gr].Get(ctx, key, "")
	}
	return obj, err
}

// resourceOf is the stored resource of gr, or nil.
func (s *Server) resourceOf(gr schema.GroupResource) *catalog.Resource {
	if st := s.registry.For(gr); st != nil {
		return st.Resource
	}
	return nil
}
