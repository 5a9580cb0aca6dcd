// Package namespace finishes namespace deletion: once a namespace has a
// deletionTimestamp it deletes every namespaced object in it (every namespaced
// resource of the catalog and every custom resource the API server serves,
// through the metadata client), waits until none is
// left (pods take their grace period, as the kubelet finishes them), then
// removes the "kubernetes" finalizer through namespaces/<n>/finalize so the
// API server can remove the namespace.
package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// FinalizerKubernetes is the spec finalizer this controller owns.
const FinalizerKubernetes = corev1.FinalizerKubernetes

// Options configures the controller.
type Options struct {
	ctrlutil.Common
	// RecheckInterval is how soon a namespace with remaining content is
	// looked at again (2s).
	RecheckInterval time.Duration
	// Resources overrides the resources emptied (default: the namespaced
	// catalog resources that can be listed and deleted).
	Resources []schema.GroupVersionResource
}

// Controller is the namespace deletion controller.
type Controller struct {
	client   kubernetes.Interface
	md       metadata.Interface
	nsLister corelisters.NamespaceLister
	opts     Options
	loop     *ctrlutil.Loop
	synced   cache.InformerSynced
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, md metadata.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	if opts.RecheckInterval <= 0 {
		opts.RecheckInterval = 2 * time.Second
	}
	if opts.Resources == nil {
		opts.Resources = NamespacedResources()
	}
	inf := factory.Core().V1().Namespaces()
	c := &Controller{client: client, md: md, nsLister: inf.Lister(), opts: opts, synced: inf.Informer().HasSynced}
	c.loop = ctrlutil.NewLoop("namespace", opts.Common, c.sync)
	enqueueDeleting := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.loop.Enqueue(ns)
		}
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueDeleting, UpdateFunc: func(_, cur any) { enqueueDeleting(cur) },
	})
	return c
}

// NamespacedResources lists the catalog resources a namespace can contain.
func NamespacedResources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	seen := map[string]bool{}
	for _, r := range catalog.Resources {
		if !r.Namespaced || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
			continue
		}
		// events and events.k8s.io/events are the same objects; empty once.
		k := r.Resource
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r.GroupVersionResource)
	}
	return out
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced) }

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, FinalizerKubernetes) {
		return nil
	}
	remaining, err := c.deleteContent(ctx, name)
	if err != nil {
		return err
	}
	if remaining > 0 {
		c.loop.Queue.AddAfter(name, c.opts.RecheckInterval)
		return nil
	}
	return c.finalize(ctx, name)
}

// deleteContent deletes everything in the namespace and returns how many
// objects still exist (being deleted gracefully, or held by finalizers).
func (c *Controller) deleteContent(ctx context.Context, ns string) (int, error) {
	remaining := 0
	var errs []error
	for _, gvr := range c.resources() {
		ri := c.md.Resource(gvr).Namespace(ns)
		err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			errs = append(errs, fmt.Errorf("namespace %s: deletecollection %s: %w", ns, gvr.Resource, err))
		}
		// List and delete one by one what is left: covers servers (and
		// resources) without deletecollection.
		list, err := ri.List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: list %s: %w", ns, gvr.Resource, err))
			continue
		}
		for _, item := range list.Items {
			remaining++
			if item.DeletionTimestamp != nil {
				continue
			}
			err := ri.Delete(ctx, item.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return remaining, utilerrors.NewAggregate(errs)
}

func (c *Controller) finalize(ctx context.Context, name string) error {
	live, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []corev1.FinalizerName
	for _, f := range live.Spec.Finalizers {
		if f != FinalizerKubernetes {
			keep = append(keep, f)
		}
	}
	live.Spec.Finalizers = keep
	_, err = c.client.CoreV1().Namespaces().Finalize(ctx, live, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
