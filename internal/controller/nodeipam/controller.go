package nodeipam

import (
	"context"
	"encoding/json"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the allocator.
type Options struct {
	ctrlutil.Common
	ClusterCIDR      string // 10.42.0.0/16
	NodeCIDRMaskSize int    // 24
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	client     kubernetes.Interface
	nodeLister corelisters.NodeLister
	opts       Options
	loop       *ctrlutil.Loop
	synced     cache.InformerSynced

	mu   sync.Mutex // guards set; handlers and workers both touch it
	set  *cidrSet
	mine map[string]string // node name -> CIDR we account for it
}

// New returns the controller, or an error for a bad CIDR configuration.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Controller, error) {
	opts.Common = opts.Common.WithDefaults()
	if opts.ClusterCIDR == "" {
		opts.ClusterCIDR = "10.42.0.0/16"
	}
	if opts.NodeCIDRMaskSize == 0 {
		opts.NodeCIDRMaskSize = 24
	}
	set, err := newCIDRSet(opts.ClusterCIDR, opts.NodeCIDRMaskSize)
	if err != nil {
		return nil, err
	}
	inf := factory.Core().V1().Nodes()
	c := &Controller{client: client, nodeLister: inf.Lister(), opts: opts, set: set,
		mine: map[string]string{}, synced: inf.Informer().HasSynced}
	c.loop = ctrlutil.NewLoop("nodeipam", opts.Common, c.sync)
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: c.nodeDeleted,
	})
	return c, nil
}

// Run rebuilds the used set from the existing nodes, then serves the queue.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !cache.WaitForNamedCacheSync("nodeipam", ctx.Done(), c.synced) {
		return
	}
	c.rebuild()
	c.loop.Run(ctx, workers)
}

// rebuild must run before any allocation so a restarted controller never
// hands out a block a node already holds.
func (c *Controller) rebuild() {
	nodes, _ := c.nodeLister.List(labels.Everything())
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.account(n)
	}
}

// account marks the node's existing CIDR used (caller holds mu).
func (c *Controller) account(n *corev1.Node) bool {
	if n.Spec.PodCIDR == "" {
		return false
	}
	if prev, ok := c.mine[n.Name]; !ok || prev != n.Spec.PodCIDR {
		if ok {
			c.set.release(prev)
		}
		if c.set.occupy(n.Spec.PodCIDR) {
			c.mine[n.Name] = n.Spec.PodCIDR
		}
	}
	return true
}

func (c *Controller) nodeDeleted(obj any) {
	obj = ctrlutil.Untombstone(obj)
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cidr, ok := c.mine[n.Name]; ok {
		c.set.release(cidr)
		delete(c.mine, n.Name)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.account(n) {
		c.mu.Unlock()
		return nil
	}
	cidr, held := c.mine[n.Name] // allocated earlier, write failed or not yet seen
	if !held {
		cidr, err = c.set.allocate()
		if err != nil {
			c.mu.Unlock()
			c.opts.Recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID},
				corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", n.Name)
			return err
		}
		c.mine[n.Name] = cidr
	}
	c.mu.Unlock()

	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	_, err = c.client.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		c.nodeDeleted(n)
		return nil
	}
	return err
}
