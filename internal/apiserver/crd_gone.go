package apiserver

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// goneStore is the store of a custom resource whose CRD stopped being served
// while a request for it was under way: everything is 404.
type goneStore struct{ gr schema.GroupResource }

var _ storage.Interface = goneStore{}

func (g goneStore) err() error { return apierrors.NewNotFound(g.gr, "") }

func (g goneStore) Create(context.Context, string, runtime.Object, bool) (runtime.Object, error) {
	return nil, g.err()
}
func (g goneStore) Get(context.Context, string, string) (runtime.Object, error) { return nil, g.err() }
func (g goneStore) Update(context.Context, string, *storage.Preconditions, storage.UpdateFunc, bool) (runtime.Object, error) {
	return nil, g.err()
}
func (g goneStore) Delete(context.Context, string, *storage.Preconditions, bool) (runtime.Object, error) {
	return nil, g.err()
}
func (g goneStore) List(context.Context, string, storage.ListOptions) (*storage.ListResult, error) {
	return nil, g.err()
}
func (g goneStore) Watch(context.Context, string, storage.WatchOptions) (watch.Interface, error) {
	return nil, g.err()
}
func (g goneStore) CurrentRevision(context.Context) (uint64, error) { return 0, g.err() }
