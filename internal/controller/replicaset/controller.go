package replicaset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// DefaultBurstReplicas caps how many pods one sync creates or deletes, so a
// huge scale-up is spread over several syncs instead of one request storm.
const DefaultBurstReplicas = 500

// Options configures the controller. The zero value is usable.
type Options struct {
	ctrlutil.Common
	// BurstReplicas is the most pods created or deleted per sync (500).
	BurstReplicas int
}

// Controller is the ReplicaSet (or ReplicationController) controller.
type Controller struct {
	client    kubernetes.Interface
	kind      kindAdapter
	podLister corelisters.PodLister
	opts      Options
	exp       *ctrlutil.Expectations
	loop      *ctrlutil.Loop
	synced    []cache.InformerSynced
}

// New returns the ReplicaSet controller. Informers are registered on factory;
// the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	a := &rsAdapter{client: client, f: factory, inf: factory.Apps().V1().ReplicaSets().Informer()}
	return newController(client, factory, a, "replicaset", opts)
}

// NewReplicationManager returns the same controller driving ReplicationControllers.
func NewReplicationManager(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	a := &rcAdapter{client: client, f: factory, inf: factory.Core().V1().ReplicationControllers().Informer()}
	return newController(client, factory, a, "replicationcontroller", opts)
}

func newController(client kubernetes.Interface, factory informers.SharedInformerFactory, kind kindAdapter, name string, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	if opts.BurstReplicas <= 0 {
		opts.BurstReplicas = DefaultBurstReplicas
	}
	podInf := factory.Core().V1().Pods()
	c := &Controller{
		client:    client,
		kind:      kind,
		podLister: podInf.Lister(),
		opts:      opts,
		exp:       ctrlutil.NewExpectations(opts.Clock),
	}
	c.loop = ctrlutil.NewLoop(name, opts.Common, c.sync)
	kind.informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.exp.Delete(key)
			}
			c.loop.Enqueue(obj)
		},
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	c.synced = []cache.InformerSynced{kind.informer().HasSynced, podInf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

// Loop exposes the work loop so tests can step the controller.
func (c *Controller) Loop() *ctrlutil.Loop { return c.loop }

// resolveRef returns the key of the controller named by ref if it is one of
// ours and still the same object (UID match), else "".
func (c *Controller) resolveRef(ns string, ref *metav1.OwnerReference) string {
	gvk := c.kind.gvk()
	if ref == nil || ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return ""
	}
	rs, err := c.kind.get(ns, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return ""
	}
	return ns + "/" + rs.Name
}

// matchingControllers lists our controllers in pod's namespace whose selector
// matches it (candidates for adopting an orphan).
func (c *Controller) matchingControllers(pod *corev1.Pod) []string {
	all, err := c.kind.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var keys []string
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		keys = append(keys, rs.Namespace+"/"+rs.Name)
	}
	return keys
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (e.g. after a relist).
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if key := c.resolveRef(pod.Namespace, ref); key != "" {
			c.exp.CreationObserved(key)
			c.loop.Queue.Add(key)
		}
		return
	}
	for _, key := range c.matchingControllers(pod) {
		c.loop.Queue.Add(key)
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion && oldPod.ResourceVersion != "" {
		return // periodic resync
	}
	if curPod.DeletionTimestamp != nil {
		// Graceful deletion: count it as deleted now so a replacement is
		// created without waiting for the kubelet to finish.
		c.deletePod(curPod)
		if !labels.Equals(oldPod.Labels, curPod.Labels) {
			c.deletePod(oldPod)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(oldPod), metav1.GetControllerOf(curPod)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if key := c.resolveRef(oldPod.Namespace, oldRef); key != "" {
			c.loop.Queue.Add(key)
		}
	}
	if curRef != nil {
		key := c.resolveRef(curPod.Namespace, curRef)
		if key == "" {
			return
		}
		c.loop.Queue.Add(key)
		// A pod that just became ready becomes available only after
		// minReadySeconds; look again then to update availableReplicas.
		if !ctrlutil.IsPodReady(oldPod) && ctrlutil.IsPodReady(curPod) {
			if rs, err := c.kind.get(curPod.Namespace, curRef.Name); err == nil && rs.Spec.MinReadySeconds > 0 {
				c.loop.Queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
			}
		}
		return
	}
	if !labels.Equals(oldPod.Labels, curPod.Labels) || oldRef != nil {
		for _, key := range c.matchingControllers(curPod) {
			c.loop.Queue.Add(key)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	key := c.resolveRef(pod.Namespace, ref)
	if key == "" {
		return
	}
	c.exp.DeletionObserved(key, pod.UID)
	c.loop.Queue.Add(key)
}

func splitKey(key string) (string, string, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return "", "", fmt.Errorf("replicaset: bad key %q: %w", key, err)
	}
	return ns, name, nil
}

var _ = appsv1.SchemeGroupVersion
