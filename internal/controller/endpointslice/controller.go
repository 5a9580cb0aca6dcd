// Package endpointslice maintains discovery.k8s.io/v1 EndpointSlices for every
// Service with a selector: one endpoint per pod with an IP, conditions
// ready/serving/terminating, at most MaxEndpointsPerSlice per slice, and one
// group of slices per distinct resolved port set and address family.
package endpointslice

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Labels and limits shared with every EndpointSlice consumer.
const (
	ControllerName       = "endpointslice-controller.k8s.io"
	MaxEndpointsPerSlice = 100
	HeadlessLabel        = "service.kubernetes.io/headless"
)

// Options configures the controller.
type Options struct {
	ctrlutil.Common
}

// Controller is the EndpointSlice controller.
type Controller struct {
	client      kubernetes.Interface
	opts        Options
	svcLister   corelisters.ServiceLister
	podLister   corelisters.PodLister
	nodeLister  corelisters.NodeLister
	sliceLister discoverylisters.EndpointSliceLister
	loop        *ctrlutil.Loop
	synced      []cache.InformerSynced

	// pending remembers, per service, the slice writes the informer has not
	// shown yet, so a second sync does not create duplicate slices.
	mu      sync.Mutex
	pending map[string]*pendingWrites
}

type pendingWrites struct {
	since   time.Time
	present map[string]string // slice name -> resourceVersion before our write ("" for create)
	deleted map[string]bool
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	svcInf, podInf := factory.Core().V1().Services(), factory.Core().V1().Pods()
	nodeInf, sliceInf := factory.Core().V1().Nodes(), factory.Discovery().V1().EndpointSlices()
	c := &Controller{client: client, opts: opts, svcLister: svcInf.Lister(), podLister: podInf.Lister(),
		nodeLister: nodeInf.Lister(), sliceLister: sliceInf.Lister(), pending: map[string]*pendingWrites{}}
	c.loop = ctrlutil.NewLoop("endpointslice", opts.Common, c.sync)
	svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.Enqueue, UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) }, DeleteFunc: c.loop.Enqueue,
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, cur any) { c.podChanged(old); c.podChanged(cur) },
		DeleteFunc: c.podChanged,
	})
	sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.sliceChanged, UpdateFunc: func(_, cur any) { c.sliceChanged(cur) }, DeleteFunc: c.sliceChanged,
	})
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
		nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) podChanged(obj any) {
	obj = ctrlutil.Untombstone(obj)
	if pod, ok := obj.(*corev1.Pod); ok {
		for _, k := range ctrlutil.ServiceKeysForPod(c.svcLister, pod) {
			c.loop.Queue.Add(k)
		}
	}
}

func (c *Controller) sliceChanged(obj any) {
	obj = ctrlutil.Untombstone(obj)
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
		return
	}
	if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
		c.loop.Queue.Add(s.Namespace + "/" + svc)
	}
}

// cacheCurrent reports whether the slice cache reflects our last writes for
// key. After 30s we stop waiting: someone else may have changed the objects.
func (c *Controller) cacheCurrent(key string, slices []*discoveryv1.EndpointSlice) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[key]
	if p == nil {
		return true
	}
	if c.opts.Clock.Since(p.since) > 30*time.Second {
		delete(c.pending, key)
		return true
	}
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		byName[s.Name] = s
	}
	for name, rv := range p.present {
		s, ok := byName[name]
		if !ok || s.ResourceVersion == rv {
			return false
		}
	}
	for name := range p.deleted {
		if _, ok := byName[name]; ok {
			return false
		}
	}
	delete(c.pending, key)
	return true
}

func (c *Controller) ownedSlices(ns, svc string) ([]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: ControllerName})
	return c.sliceLister.EndpointSlices(ns).List(sel)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Slices carry an ownerReference to the Service; the garbage
		// collector removes them.
		c.mu.Lock()
		delete(c.pending, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	existing, err := c.ownedSlices(ns, name)
	if err != nil {
		return err
	}
	if !c.cacheCurrent(key, existing) {
		c.loop.Queue.AddAfter(key, 100*time.Millisecond)
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	return c.reconcile(ctx, key, svc, c.desired(svc, pods), existing)
}
