package apiserver

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/storage"
)

// rbacResources are the stores the RBAC index follows.
var rbacResources = []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}

// cacheSink is an in-memory view the server keeps current from a store's watch
// cache (the RBAC index, the node authorizer's pod graph).
type cacheSink interface {
	Replace(objs []runtime.Object) // the whole contents after a list
	Set(obj runtime.Object)        // added or modified
	Remove(obj runtime.Object)     // deleted
}

// feedRBAC keeps the RBAC index current from the four RBAC stores' watch
// caches: a list replaces a kind's contents, then watch events apply one by
// one. A closed watch resumes where it stopped; an expired one re-lists. The
// index never reads etcd per request.
func (s *Server) feedRBAC(ctx context.Context, ix *authz.RBACIndex) {
	for _, name := range rbacResources {
		res := catalog.Lookup("rbac.authorization.k8s.io", "v1", name)
		go s.feed(ctx, res, rbacSink{ix: ix, kind: res.Kind}, func() { s.rbacSynced(res.Kind) })
	}
}

type rbacSink struct {
	ix   *authz.RBACIndex
	kind string
}

func (r rbacSink) Replace(objs []runtime.Object) { r.ix.Replace(r.kind, objs) }
func (r rbacSink) Set(obj runtime.Object)        { r.ix.Set(obj) }
func (r rbacSink) Remove(obj runtime.Object)     { r.ix.Remove(obj) }

// feed lists res into sink (calling synced after each full list), then follows
// its watch, re-listing when the watch expires.
func (s *Server) feed(ctx context.Context, res *catalog.Resource, sink cacheSink, synced func()) {
	st := s.stores[res.GroupResource()]
	prefix := s.storagePrefix(res)
	for ctx.Err() == nil {
		list, err := st.List(ctx, prefix, storage.ListOptions{ResourceVersion: "0"})
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("watch-cache feed: list failed", "resource", res.Resource, "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		sink.Replace(list.Items)
		if synced != nil {
			synced()
		}
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			next, ok := followWatch(ctx, st, prefix, rv, sink)
			if !ok {
				break // expired or failed: re-list
			}
			rv = next
		}
	}
}

// followWatch applies one watch's events until it closes; ok=false asks for a re-list.
func followWatch(ctx context.Context, st storage.Interface, prefix string, rv uint64, sink cacheSink) (uint64, bool) {
	w, err := st.Watch(ctx, prefix, storage.WatchOptions{ResourceVersion: itoa(int64(rv))})
	if err != nil {
		return rv, false
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified:
			sink.Set(ev.Object)
		case watch.Deleted:
			sink.Remove(ev.Object)
		case watch.Error:
			return rv, false
		}
		if n := objectRV(ev.Object); n > rv {
			rv = n
		}
	}
	return rv, true
}

func objectRV(obj runtime.Object) uint64 {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	var n uint64
	for _, c := range m.GetResourceVersion() {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
