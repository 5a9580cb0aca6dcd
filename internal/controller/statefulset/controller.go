package statefulset

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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

// Controller is the StatefulSet controller. It needs no expectations: pod
// names are fixed, so a create the cache has not seen yet fails with
// AlreadyExists, and deletes carry the pod's UID as a precondition.
type Controller struct {
	client    kubernetes.Interface
	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	history   history.Store
	opts      Options
	loop      *ctrlutil.Loop
	synced    []cache.InformerSynced
}

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// New returns the StatefulSet controller. Informers are registered on
// factory; the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	sets := factory.Apps().V1().StatefulSets()
	pods := factory.Core().V1().Pods()
	revs := factory.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:    client,
		setLister: sets.Lister(),
		podLister: pods.Lister(),
		history:   history.Store{Client: client, Lister: revs.Lister()},
		opts:      opts,
	}
	c.loop = ctrlutil.NewLoop("statefulset", opts.Common, c.sync)
	sets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: c.loop.Enqueue,
	})
	pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podEvent,
		UpdateFunc: func(old, cur any) {
			if old.(*corev1.Pod).ResourceVersion != cur.(*corev1.Pod).ResourceVersion {
				c.podEvent(cur)
			}
		},
		DeleteFunc: c.podEvent,
	})
	c.synced = []cache.InformerSynced{sets.Informer().HasSynced, pods.Informer().HasSynced, revs.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

// Loop exposes the work loop so tests can step the controller.
func (c *Controller) Loop() *ctrlutil.Loop { return c.loop }

func (c *Controller) podEvent(obj any) {
	pod, ok := ctrlutil.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := ctrlutil.ControllerRefOf(pod, controllerKind)
	if ref == nil {
		return
	}
	set, err := c.setLister.StatefulSets(pod.Namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return
	}
	key := set.Namespace + "/" + set.Name
	c.loop.Queue.Add(key)
	if set.Spec.MinReadySeconds > 0 && ctrlutil.IsPodReady(pod) {
		c.loop.Queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

// ordinalOf parses "<set>-<n>"; -1 means the pod is not one of set's slots.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) int {
	rest, ok := strings.CutPrefix(pod.Name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

func splitKey(key string) (string, string, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return "", "", fmt.Errorf("statefulset: bad key %q: %w", key, err)
	}
	return ns, name, nil
}
