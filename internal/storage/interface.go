// Package storage is Skiff's versioned object store on etcd v3. Only the API server
// imports it: every other component reaches the cluster through the API.
//
// Objects live under <prefix>/<resource>/<namespace>/<name> (cluster-scoped:
// <prefix>/<resource>/<name>), encoded as Kubernetes protobuf. An object's
// metadata.resourceVersion is its etcd mod revision; a list's is the etcd revision
// it was read at.
package storage

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// AttrFunc returns the label and field sets a selector is matched against.
type AttrFunc func(obj runtime.Object) (labels.Set, fields.Set, error)

// Predicate selects objects by label and field selectors. Nil selectors match all.
type Predicate struct {
	Label labels.Selector
	Field fields.Selector
	Attrs AttrFunc
}

// Matches reports whether obj satisfies the predicate.
func (p Predicate) Matches(obj runtime.Object) (bool, error) {
	if (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty()) {
		return true, nil
	}
	if p.Attrs == nil {
		return false, errors.New("storage: predicate has selectors but no AttrFunc")
	}
	l, f, err := p.Attrs(obj)
	if err != nil {
		return false, err
	}
	if p.Label != nil && !p.Label.Matches(l) {
		return false, nil
	}
	if p.Field != nil && !p.Field.Matches(f) {
		return false, nil
	}
	return true, nil
}

// Preconditions must hold on the stored object for an update or delete to proceed.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// ListOptions say which state a list reads and how it pages.
type ListOptions struct {
	// ResourceVersion: "" = most recent (consistent read from etcd), "0" = any
	// (served from the watch cache), N = not older than N (or exactly N with Exact).
	ResourceVersion      string
	ResourceVersionMatch string // "", "NotOlderThan", "Exact"
	Limit                int64
	Continue             string
	Predicate            Predicate
}

// ListResult is one page of a list.
type ListResult struct {
	Items           []runtime.Object
	ResourceVersion uint64
	Continue        string
	// RemainingItemCount is set when more pages follow and the count is known.
	RemainingItemCount *int64
}

// WatchOptions say where a watch starts.
type WatchOptions struct {
	// ResourceVersion: "" or "0" = send ADDED for current state first, then changes;
	// N = only changes after N (410 Expired if N is older than the watch cache holds).
	ResourceVersion string
	// SendInitialEvents (watch-list): ADDED for current state, then one BOOKMARK with the
	// annotation k8s.io/initial-events-end=true, then changes.
	SendInitialEvents *bool
	AllowBookmarks    bool
	Predicate         Predicate
}

// UpdateFunc computes the new object from the current one. It receives a private copy
// of the stored object (resourceVersion set) that it may modify and return. Returning
// an error aborts the update and Update returns that error unchanged. It may be called
// more than once when concurrent writers race.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// Interface is the store of one resource type.
//
// Errors are *apierrors.StatusError built with k8s.io/apimachinery/pkg/api/errors
// (NotFound, AlreadyExists, Conflict, Expired/Gone 410, Timeout 504 for a resource
// version newer than the store) so the API server passes them straight to clients.
type Interface interface {
	// Create stores obj under key if nothing is there. It sets resourceVersion on the
	// returned object. With dryRun nothing is written.
	Create(ctx context.Context, key string, obj runtime.Object, dryRun bool) (runtime.Object, error)
	// Get reads one object. rv "" reads etcd (quorum); "0" or N (not older than N) is
	// served from the watch cache. The object returned is the caller's to modify.
	Get(ctx context.Context, key string, rv string) (runtime.Object, error)
	// Update reads the object, calls fn, and writes the result if its mod revision is
	// unchanged, retrying fn on a concurrent write. A result that encodes to the stored
	// bytes writes nothing and returns the current object, resourceVersion unchanged (no
	// event). If the result carries a non-empty metadata.resourceVersion that differs
	// from the stored one, the update fails with 409 Conflict. If Config.DeleteOnUpdate
	// reports true for the result, the object is deleted instead and the result is
	// returned with the delete's revision (the DELETED event carries the last stored
	// state with that revision). Not found is 404.
	Update(ctx context.Context, key string, pre *Preconditions, fn UpdateFunc, dryRun bool) (runtime.Object, error)
	// Delete removes the object if preconditions hold and returns its last state.
	Delete(ctx context.Context, key string, pre *Preconditions, dryRun bool) (runtime.Object, error)
	// List reads the objects under prefix (a namespace's or all).
	List(ctx context.Context, prefix string, opts ListOptions) (*ListResult, error)
	// Watch streams changes under prefix. Events carry full objects; an object that
	// stops matching the predicate is sent as DELETED, one that starts matching as ADDED.
	// Event objects are shared with the watch cache and other watchers: read-only.
	// The result channel closes when ctx ends, Stop is called, the consumer falls too
	// far behind, or the cache re-lists; clients then resume from the last
	// resourceVersion they saw (or re-list on 410).
	Watch(ctx context.Context, prefix string, opts WatchOptions) (watch.Interface, error)
	// CurrentRevision is the etcd revision the store has seen.
	CurrentRevision(ctx context.Context) (uint64, error)
}
