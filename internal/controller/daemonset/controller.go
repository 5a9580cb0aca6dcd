package daemonset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// Options configures the controller. The zero value is usable.
type Options struct {
	ctrlutil.Common
}

// Controller is the DaemonSet controller.
type Controller struct {
	client    kubernetes.Interface
	dsLister  appslisters.DaemonSetLister
	podLister corelisters.PodLister
	nodes     corelisters.NodeLister
	history   history.Store
	opts      Options
	exp       *ctrlutil.Expectations
	loop      *ctrlutil.Loop
	synced    []cache.InformerSynced
}

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// New returns the DaemonSet controller. Informers are registered on factory;
// the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	ds := factory.Apps().V1().DaemonSets()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	revs := factory.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:    client,
		dsLister:  ds.Lister(),
		podLister: pods.Lister(),
		nodes:     nodes.Lister(),
		history:   history.Store{Client: client, Lister: revs.Lister()},
		opts:      opts,
		exp:       ctrlutil.NewExpectations(opts.Clock),
	}
	c.loop = ctrlutil.NewLoop("daemonset", opts.Common, c.sync)
	ds.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.exp.Delete(key)
			}
			c.loop.Enqueue(obj)
		},
	})
	pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podEvent(obj, true, false) },
		UpdateFunc: func(old, cur any) {
			if old.(*corev1.Pod).ResourceVersion == cur.(*corev1.Pod).ResourceVersion {
				return
			}
			c.podEvent(cur, false, cur.(*corev1.Pod).DeletionTimestamp != nil)
		},
		DeleteFunc: func(obj any) { c.podEvent(obj, false, true) },
	})
	nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			// Only what eligibility depends on; heartbeats must not resync
			// every DaemonSet.
			if !equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
				!equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	revs.Informer() // registered so the lister is filled
	c.synced = []cache.InformerSynced{ds.Informer().HasSynced, pods.Informer().HasSynced,
		nodes.Informer().HasSynced, revs.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

// Loop exposes the work loop so tests can step the controller.
func (c *Controller) Loop() *ctrlutil.Loop { return c.loop }

func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.loop.Enqueue(ds)
	}
}

// podEvent routes a pod event to its controlling DaemonSet, settling the
// expectation the event answers.
func (c *Controller) podEvent(obj any, created, deleted bool) {
	pod, ok := ctrlutil.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := ctrlutil.ControllerRefOf(pod, controllerKind)
	if ref == nil {
		return
	}
	ds, err := c.dsLister.DaemonSets(pod.Namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return
	}
	key := ds.Namespace + "/" + ds.Name
	switch {
	case created && pod.DeletionTimestamp == nil:
		c.exp.CreationObserved(key)
	case deleted || pod.DeletionTimestamp != nil:
		c.exp.DeletionObserved(key, pod.UID)
	}
	c.loop.Queue.Add(key)
	// A pod that is ready becomes available after minReadySeconds; look
	// again then so numberAvailable moves without another event.
	if ds.Spec.MinReadySeconds > 0 && ctrlutil.IsPodReady(pod) {
		c.loop.Queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

func splitKey(key string) (string, string, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return "", "", fmt.Errorf("daemonset: bad key %q: %w", key, err)
	}
	return ns, name, nil
}
