// Package garbagecollector deletes objects whose owners are gone and carries
// out the foreground and orphan deletion modes.
//
// It watches the metadata of every resource that can have owners and indexes
// objects by the UIDs in their ownerReferences. Work items are of two kinds:
// a dependent to check ("is every owner gone?") and an owner being deleted
// with the foregroundDeletion or orphan finalizer.
//
//   - Background: a dependent whose owners are all absent is deleted; one with
//     some live owners only loses the references to the absent ones.
//   - Foreground: dependents of an owner carrying foregroundDeletion are
//     deleted; once none with blockOwnerDeletion remains, the finalizer is
//     removed and the API server deletes the owner.
//   - Orphan: references to an owner carrying "orphan" are removed from its
//     dependents, then the finalizer.
package garbagecollector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Finalizers that select the deletion mode (set by the API server from
// propagationPolicy).
const (
	FinalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
	FinalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
	ownerIndex          = "skiff.gc/ownerUID"
)

// Options configures the collector.
type Options struct {
	ctrlutil.Common
	// Resources to watch; default: every catalog resource that can be
	// listed, watched and deleted, except events.
	Resources    []schema.GroupVersionResource
	ResyncPeriod time.Duration
}

// Controller is the garbage collector.
type Controller struct {
	md        metadata.Interface
	factory   metadatainformer.SharedInformerFactory
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	loop      *ctrlutil.Loop
}

// DefaultResources lists what the collector watches by default.
func DefaultResources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, r := range catalog.Resources {
		if r.Resource == "events" {
			continue // never owned, and the busiest resource of all
		}
		if slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") && slices.Contains(r.Verbs, "delete") {
			out = append(out, r.GroupVersionResource)
		}
	}
	return out
}

// New builds the collector with its own metadata informer factory, started by Run.
func New(md metadata.Interface, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	if opts.Resources == nil {
		opts.Resources = DefaultResources()
	}
	c := &Controller{md: md, factory: metadatainformer.NewSharedInformerFactory(md, opts.ResyncPeriod),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}}
	c.loop = ctrlutil.NewLoop("garbagecollector", opts.Common, c.sync)
	for _, gvr := range opts.Resources {
		inf := c.factory.ForResource(gvr).Informer()
		_ = inf.AddIndexers(cache.Indexers{ownerIndex: func(obj any) ([]string, error) {
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return nil, nil
			}
			var uids []string
			for _, r := range m.OwnerReferences {
				uids = append(uids, string(r.UID))
			}
			return uids, nil
		}})
		inf.AddEventHandler(c.handlers(gvr))
		c.informers[gvr] = inf
	}
	return c
}

// Run starts the informers and workers; it blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.factory.Start(ctx.Done())
	var synced []cache.InformerSynced
	for _, inf := range c.informers {
		synced = append(synced, inf.HasSynced)
	}
	c.loop.Run(ctx, workers, synced...)
	c.factory.Shutdown()
}

// item keys: "<kind>|<group>/<version>/<resource>|<namespace>|<name>", kind
// "dep" (check owners) or "own" (owner in foreground/orphan deletion).
func itemKey(kind string, gvr schema.GroupVersionResource, ns, name string) string {
	return strings.Join([]string{kind, gvr.Group + "/" + gvr.Version + "/" + gvr.Resource, ns, name}, "|")
}

func parseKey(k string) (kind string, gvr schema.GroupVersionResource, ns, name string, err error) {
	p := strings.Split(k, "|")
	if len(p) != 4 {
		return "", gvr, "", "", fmt.Errorf("bad key %q", k)
	}
	g := strings.SplitN(p[1], "/", 3)
	if len(g) != 3 {
		return "", gvr, "", "", fmt.Errorf("bad key %q", k)
	}
	return p[0], schema.GroupVersionResource{Group: g[0], Version: g[1], Resource: g[2]}, p[2], p[3], nil
}

func asMeta(obj any) (*metav1.PartialObjectMetadata, bool) {
	obj = ctrlutil.Untombstone(obj)
	m, ok := obj.(*metav1.PartialObjectMetadata)
	return m, ok
}

func (c *Controller) handlers(gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	changed := func(obj any) {
		m, ok := asMeta(obj)
		if !ok {
			return
		}
		if len(m.OwnerReferences) > 0 {
			c.loop.Queue.Add(itemKey("dep", gvr, m.Namespace, m.Name))
		}
		if m.DeletionTimestamp != nil && (slices.Contains(m.Finalizers, FinalizerForeground) || slices.Contains(m.Finalizers, FinalizerOrphan)) {
			c.loop.Queue.Add(itemKey("own", gvr, m.Namespace, m.Name))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, cur any) { changed(cur) },
		DeleteFunc: func(obj any) {
			m, ok := asMeta(obj)
			if !ok {
				return
			}
			// Its dependents may now be orphans...
			for _, d := range c.dependents(m.UID) {
				c.loop.Queue.Add(itemKey("dep", d.gvr, d.obj.Namespace, d.obj.Name))
			}
			// ...and an owner waiting in foreground deletion may be done.
			for _, r := range m.OwnerReferences {
				if ogvr, ok := resourceFor(r); ok {
					c.loop.Queue.Add(itemKey("own", ogvr, ownerNamespace(ogvr, m.Namespace), r.Name))
				}
			}
		},
	}
}

type dependent struct {
	gvr schema.GroupVersionResource
	obj *metav1.PartialObjectMetadata
}

// dependents lists cached objects with an ownerReference to uid.
func (c *Controller) dependents(uid any) []dependent {
	var out []dependent
	for gvr, inf := range c.informers {
		objs, _ := inf.GetIndexer().ByIndex(ownerIndex, fmt.Sprint(uid))
		for _, o := range objs {
			if m, ok := o.(*metav1.PartialObjectMetadata); ok {
				out = append(out, dependent{gvr, m})
			}
		}
	}
	return out
}

// resourceFor maps an ownerReference's kind to a served resource.
func resourceFor(r metav1.OwnerReference) (schema.GroupVersionResource, bool) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return schema.GroupVersionResource{}, false
	}
	res := catalog.ForKind(gv.WithKind(r.Kind))
	if res == nil {
		return schema.GroupVersionResource{}, false
	}
	return res.GroupVersionResource, true
}

func ownerNamespace(gvr schema.GroupVersionResource, depNS string) string {
	if r := catalog.Lookup(gvr.Group, gvr.Version, gvr.Resource); r != nil && !r.Namespaced {
		return ""
	}
	return depNS
}

func (c *Controller) get(gvr schema.GroupVersionResource, ns, name string) (*metav1.PartialObjectMetadata, bool) {
	inf, ok := c.informers[gvr]
	if !ok {
		return nil, false
	}
	key := name
	if ns != "" {
		key = ns + "/" + name
	}
	o, exists, _ := inf.GetIndexer().GetByKey(key)
	if !exists {
		return nil, false
	}
	m, ok := o.(*metav1.PartialObjectMetadata)
	return m, ok
}

func (c *Controller) sync(ctx context.Context, key string) error {
	kind, gvr, ns, name, err := parseKey(key)
	if err != nil {
		return nil
	}
	obj, ok := c.get(gvr, ns, name)
	if !ok {
		return nil
	}
	if kind == "own" {
		return c.processOwner(ctx, gvr, obj)
	}
	return c.processDependent(ctx, gvr, obj)
}
